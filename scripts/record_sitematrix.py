"""Record Wikimedia's site matrix (`action=sitematrix`) for `wikis: all` (flagbot/sitematrix.py).

    python scripts/record_sitematrix.py                 # ask meta.wikimedia.org (needs network)
    python scripts/record_sitematrix.py --from-pywikibot  # offline: from pywikibot's families

The shipped `flagbot/data/sitematrix.json` was built with `--from-pywikibot` (the machine that
made it reached no wiki): every language edition pywikibot's Wikimedia families list, open and
closed, the special wikis it knows, and the private wikis the real matrix marks private, in the
API's own formatversion=2 shape. `flagbot run` asks meta for the real matrix at start when
online, so the file only stands in offline and in tests. Re-record it with network access.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from flagbot.sitematrix import FAMILIES

OUT = Path(__file__).resolve().parent.parent / "flagbot" / "data" / "sitematrix.json"
# pywikibot family → the matrix's project code (the dbname's suffix)
PROJECTS = {name: code for name, code in FAMILIES.items() if name != "special"}
SPECIALS = {  # dbname → host, for the one-off wikis pywikibot has a family of
    "commonswiki": "commons.wikimedia.org",
    "metawiki": "meta.wikimedia.org",
    "wikidatawiki": "www.wikidata.org",
    "specieswiki": "species.wikimedia.org",
    "mediawikiwiki": "www.mediawiki.org",
    "incubatorwiki": "incubator.wikimedia.org",
    "outreachwiki": "outreach.wikimedia.org",
    "wikifunctionswiki": "www.wikifunctions.org",
    "wikimaniawiki": "wikimania.wikimedia.org",
}
FISHBOWL = {"foundationwiki": "foundation.wikimedia.org"}  # only staff edit
PRIVATE = {  # readable by their members only: flagbot must never try them
    "checkuserwiki": "checkuser.wikimedia.org",
    "stewardwiki": "steward.wikimedia.org",
    "ombudsmenwiki": "ombuds.wikimedia.org",
    "arbcom_enwiki": "arbcom-en.wikipedia.org",
    "arbcom_dewiki": "arbcom-de.wikipedia.org",
}


def from_pywikibot() -> dict[str, Any]:
    os.environ.setdefault("PYWIKIBOT_NO_USER_CONFIG", "2")
    from pywikibot.family import Family

    languages: dict[str, list[dict[str, Any]]] = {}
    for family_name, project in PROJECTS.items():
        family = Family.load(family_name)
        closed = set(family.closed_wikis)
        for code in sorted(set(family.codes) | closed):
            database = code.replace("-", "_") + project
            languages.setdefault(code, []).append(
                {
                    "url": f"https://{code}.{family_name}.org",
                    "dbname": database,
                    "code": project,
                    "sitename": family_name.capitalize(),
                    **({"closed": True} if code in closed else {}),
                }
            )
    matrix: dict[str, Any] = {}
    for number, code in enumerate(sorted(languages)):
        matrix[str(number)] = {"code": code, "name": code, "site": languages[code], "dir": "ltr"}
    specials = [
        {"url": f"https://{host}", "dbname": db, "code": db.removesuffix("wiki"), "lang": "en"}
        for db, host in SPECIALS.items()
    ]
    specials += [
        {"url": f"https://{host}", "dbname": db, "code": db, "fishbowl": True}
        for db, host in FISHBOWL.items()
    ]
    specials += [
        {"url": f"https://{host}", "dbname": db, "code": db, "private": True}
        for db, host in PRIVATE.items()
    ]
    matrix["count"] = sum(len(s) for s in languages.values()) + len(specials)
    matrix["specials"] = specials
    return {"sitematrix": matrix, "flagbot_source": "built from pywikibot's families, offline"}


def live() -> dict[str, Any]:
    """The real matrix, asked of Meta as `flagbot run` asks it (WikiClient.site_matrix)."""
    from flagbot.config import WikiSettings, embedded_default
    from flagbot.wiki import WikiClient

    settings = dataclasses.replace(embedded_default(), offline=False)
    meta = WikiSettings("metawiki", "https://meta.wikimedia.org")
    return WikiClient(settings).site_matrix(meta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-pywikibot", action="store_true", help="offline: build it")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    matrix = from_pywikibot() if args.from_pywikibot else live()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(matrix, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{args.out}: {matrix['sitematrix']['count']} wikis")


if __name__ == "__main__":
    main()
