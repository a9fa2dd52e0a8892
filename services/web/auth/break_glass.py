"""Break-glass grants on the server: a person's reason to open an incident outside need-to-know.

The reason may quote a child, so it never goes into the session cookie (which its holder can
read). A grant lasts GRANT_LIFETIME and only within the session generation it was made in, so
signing out (anywhere) ends it too. Every page opened with it logs the reason (the incident
queries do that); the grant itself is audited here.
"""

from __future__ import annotations

from datetime import timedelta

from flask import session

from services.web.auth.identity import current_user
from services.web.extensions import runtime

GRANT_LIFETIME = timedelta(hours=1)
BREAK_GLASS_GRANTED = "incident.break_glass_granted"


def grant_break_glass(incident_id: str, reason: str) -> bool:
    """Record the signed-in person's reason for this incident; False if no such incident."""
    user = current_user()
    generation = session.get("generation")
    if user is None or not isinstance(generation, int):
        return False
    app_runtime = runtime()
    now = app_runtime.clock.now()
    with app_runtime.unit_of_work() as uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            return False
        grant = uow.break_glass.add(
            user.id,
            incident_id,
            reason,
            session_generation=generation,
            at=now,
            expires_at=now + GRANT_LIFETIME,
        )
        uow.audit.add(
            BREAK_GLASS_GRANTED,
            f"incident:{incident_id}",
            actor_id=user.id,
            school_id=incident.school_id,
            incident_id=incident_id,
            reason=reason,
            new_values={"grant_id": grant.id, "expires_at": grant.expires_at.isoformat()},
            occurred_at=now,
        )
        uow.commit()
    return True


def break_glass_reasons() -> dict[str, str]:
    """Incident id -> the reason the signed-in person gave, for grants that hold now."""
    user = current_user()
    generation = session.get("generation")
    if user is None or not isinstance(generation, int):
        return {}
    app_runtime = runtime()
    with app_runtime.unit_of_work() as uow:
        return uow.break_glass.active_reasons(user.id, generation, app_runtime.clock.now())
