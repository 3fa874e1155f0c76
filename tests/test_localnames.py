"""Signatures, replies and pings in a wiki's own names (issue 26): "[[Wikipedysta:Anna|Anna]]"
is Anna's signature on the Polish Wikipedia, and a reply below it is aimed at her."""

from __future__ import annotations

from flagbot.diffs import replied_to
from flagbot.events import RecentChange
from flagbot.localnames import canonical_links, link_names, template_names
from flagbot.patterns import targets
from flagbot.wikitext import readable_text

# the Polish Wikipedia's names, as its siteinfo gives them (formatversion 2): gender forms and
# the old "Użytkownik" are aliases
POLISH = link_names(
    {
        "namespaces": {
            "-1": {"id": -1, "name": "Specjalna", "canonical": "Special"},
            "2": {"id": 2, "name": "Wikipedysta", "canonical": "User"},
            "3": {"id": 3, "name": "Dyskusja wikipedysty", "canonical": "User talk"},
            "4": {"id": 4, "name": "Wikipedia", "canonical": "Project"},
        },
        "namespacealiases": [
            {"id": 2, "alias": "Wikipedystka"},
            {"id": 2, "alias": "Użytkownik"},
            {"id": 3, "alias": "Dyskusja wikipedystki"},
            {"id": 3, "alias": "Dyskusja użytkownika"},
            {"id": 4, "alias": "WP"},
        ],
        "specialpagealiases": [
            {"realname": "Contributions", "aliases": ["Wkład", "Contributions", "Contribs"]},
            {"realname": "Watchlist", "aliases": ["Obserwowane"]},
        ],
    }
)
BEFORE = (
    "== Źródła ==\nTo źródło jest słabe. [[Wikipedysta:Anna|Anna]] "
    "([[Dyskusja wikipedysty:Anna|dyskusja]]) 10:00, 1 gru 2026 (CET)\n"
)
REPLY = ":Nie zgadzam się z tobą. [[Wikipedystka:Ewa_K|Ewa]] ([[Specjalna:Wkład/Ewa K|wkład]])\n"


def polish_reply(user: str) -> RecentChange:
    return RecentChange(
        wiki="plwiki",
        type="edit",
        namespace=1,
        title="Dyskusja:Przykład",
        user=user,
        bot=False,
        timestamp=0,
        comment="",
        old_rev=1,
        new_rev=2,
        server_url="https://pl.wikipedia.org",
        script_path="/w",
    )


def test_the_wiki_s_own_names_are_read_as_the_canonical_ones():
    text = canonical_links(BEFORE + REPLY, POLISH)
    assert "[[User:Anna|Anna]] ([[User talk:Anna|dyskusja]])" in text
    assert "[[User:Ewa_K|Ewa]] ([[Special:Contributions/Ewa K|wkład]])" in text
    # any case, underscores for spaces, a leading colon: MediaWiki reads them all alike
    assert canonical_links("[[:dyskusja_Wikipedysty:Ola]]", POLISH) == "[[:User talk:Ola]]"
    assert canonical_links("[[Wikipedia:Zasady]] no links here", POLISH) == (
        "[[Wikipedia:Zasady]] no links here"
    )


def test_a_reply_on_a_polish_talk_page_is_aimed_at_the_user_it_answers():
    old = canonical_links(BEFORE, POLISH)
    new = canonical_links(BEFORE + REPLY, POLISH)
    assert replied_to(old, new) == "Anna"
    assert replied_to(BEFORE, BEFORE + REPLY) == ""  # unread, as before: nobody named
    change = polish_reply("Ewa K")
    added = canonical_links(REPLY, POLISH) + " [[Wikipedystka:Ola|Ola]], co myślisz?"
    assert set(targets(change, canonical_links(added, POLISH), "Anna")) == {"Anna", "Ola"}


def test_a_signature_in_the_wiki_s_own_names_is_not_scored_as_words():
    assert readable_text(canonical_links(REPLY, POLISH)) == "Nie zgadzam się z tobą."
    assert "Ewa" in readable_text(REPLY)  # read raw, the signature's words were scored


def test_link_names_come_from_the_wiki_s_namespaces_and_aliases():
    assert POLISH["wikipedystka"] == "User" and POLISH["dyskusja użytkownika"] == "User talk"
    assert POLISH["specjalna"] == "Special" and POLISH["wkład"] == "contribs"
    assert POLISH["user"] == "User"  # the canonical names work on every wiki
    assert "wp" not in POLISH and "obserwowane" not in POLISH  # only user pages and contributions


def test_the_ping_unsigned_and_outdent_templates_by_their_local_names():
    """frwiki calls its ping template {{Notif}}, dewiki writes {{Vorlage:Ping|…}} and signs for
    others with {{Unsigniert}}: all are read by their English names once the wiki has said so
    (its templates and the redirects to them)."""
    answer = {
        "redirects": [{"from": "Template:Outdent", "to": "Szablon:Wcięcie"}],
        "pages": [
            {
                "title": "Szablon:Ping",
                "redirects": [{"title": "Szablon:Odp"}, {"title": "Szablon:Notif"}],
            },
            {"title": "Szablon:Wcięcie", "redirects": [{"title": "Szablon:Od"}]},
            {"title": "Template:Unsigned", "missing": True},
        ],
    }
    names = {**POLISH, "szablon": "Template", **template_names(answer)}
    assert names["wcięcie"] == names["od"] == "outdent" and "unsigned" not in names
    text = ":{{Odp|Anna}} i {{ szablon:notif |Ola}}, popatrzcie. {{Cytat|Odp}}"
    assert canonical_links(text, names) == (
        ":{{ping|Anna}} i {{ ping |Ola}}, popatrzcie. {{Cytat|Odp}}"
    )
    assert set(targets(polish_reply("Ewa"), canonical_links(text, names))) == {"Anna", "Ola"}
    assert canonical_links("{{Wcięcie}} Zgoda.", names) == "{{outdent}} Zgoda."


def test_an_outdented_reply_answers_the_comment_above():
    """ "{{od}}" resets the indentation of a long thread: the reply still answers the comment
    right above it (it was read as a new top-level comment, aimed at no one)."""
    old = "== Sources ==\nOne.\n:Two. [[User:Anna|Anna]]\n::::::Three. [[User:Bea|Bea]]\n"
    assert replied_to(old, old + "{{od}} I disagree with Bea. [[User:Cy|Cy]]\n") == "Bea"
    assert replied_to(old, old + "{{od|::::::}}Fine. [[User:Cy|Cy]]\n") == "Bea"
    assert replied_to(old, old + "A new point. [[User:Cy|Cy]]\n") == ""  # top level: no one
