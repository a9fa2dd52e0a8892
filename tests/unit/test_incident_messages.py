"""The words of a new-concern alert: the school and a link, never the concern or a child."""

from __future__ import annotations

from services.notifications.incident_messages import message_text


def test_a_new_concern_alert_says_what_and_where_but_nothing_of_the_concern() -> None:
    url = "https://safeguard.example.org/incidents/i-1"
    text = message_text("Demo\n  School", "new_concern", url)
    assert text.in_app.startswith("A new concern was raised on an incident at Demo School:")
    assert "immediate referral" in text.in_app
    assert text.subject == "Safeguard Flow: a new concern was raised (Demo School)"
    assert url in text.body and "do not forward" in text.body
    other = message_text("Demo School", "parent_call", url)
    assert other.in_app.startswith("A message (parent call) was raised")
