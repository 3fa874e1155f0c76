"""Alert rendering with hostile metadata (the delivery paths are in tests/integration)."""

from email import message_from_bytes

from flagbot.alerts import Alert, FlagRef, email_message, render
from flagbot.config import AlertSettings


def flag(title, user):
    return FlagRef(
        flag_id=1,
        wiki="enwiki",
        diff_url="https://en.wikipedia.org/w/index.php?diff=2&oldid=1",
        title=title,
        user=user,
        edit_time=1_767_225_600,
        categories=("personal_attack",),
        score=0.97,
        rule_ids=(),
        review_url="",
    )


def test_a_title_or_user_with_line_breaks_adds_no_header_and_no_line():
    evil = flag("Talk:A\r\nBcc: everyone@example.org", "Bob\nDiff:       https://evil.example/")
    alert = Alert(channel="smtp", address="os@example.org", route="oversight", items=(evil,))
    subject, body = render(alert)
    assert "\n" not in subject and "\r" not in subject
    assert subject.endswith("on Talk:A Bcc: everyone@example.org")
    assert [line for line in body.splitlines() if line.startswith("Diff:")] == [
        "Diff:       https://en.wikipedia.org/w/index.php?diff=2&oldid=1"
    ]
    message = message_from_bytes(bytes(email_message(alert, subject, body, AlertSettings())))
    assert message["Bcc"] is None and message["To"] == "os@example.org"
