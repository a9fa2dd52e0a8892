"""The incident JSON's `review_date`: when its record is next reviewed for retention (issue 11)."""

from __future__ import annotations

from services.domain.handlers.retention import review_date_of
from services.web.extensions import runtime


def review_date_json(incident_id: str) -> str | None:
    """The review date as "YYYY-MM-DD" (null until a child's date of birth is known).

    Called while rendering an incident the caller was just allowed to see (its read is
    already audited); the date carries no personal detail.
    """
    with runtime().unit_of_work() as uow:
        review = review_date_of(uow, incident_id)
    return review.isoformat() if review is not None else None
