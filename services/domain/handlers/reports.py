"""Read the dashboard's figures for a school, or trust-wide for every school of the reader."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from services.db import SqlAlchemyUnitOfWork
from services.domain.children.access import REPORT_ROLES, can_read_reports
from services.domain.dependencies import Dependencies
from services.domain.errors import AccessDenied, RequestInvalid
from services.domain.handlers.common import enforce
from services.domain.reports.figures import Period, count_figures
from services.domain.reports.messages import ReadReport, Report, ReportScope
from services.domain.reports.projection import install as install_projection

MAX_DAYS = 366 * 5

# Report rows follow every audited change in its own transaction (projection.install). The
# bus imports this module when it is built, so every process that changes incidents through
# the bus keeps them in step; a listener on a class, not an object built at import.
install_projection()


def read_report(query: ReadReport, deps: Dependencies) -> Report:
    """Check the reader may see each school's reports, log the read, count the figures."""
    if query.date_to < query.date_from:
        raise RequestInvalid("to: the end of the period comes before its start")
    if (query.date_to - query.date_from).days > MAX_DAYS:
        raise RequestInvalid("to: a report covers at most five years")
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        school_ids = _schools(uow, query)
        names = tuple(_name(uow, school_id) for school_id in school_ids)
        scope = ReportScope(
            school_ids, names, query.date_from, query.date_to, trust_wide=len(school_ids) > 1
        )
        start = datetime.combine(query.date_from, time(), UTC)
        end = datetime.combine(query.date_to + timedelta(days=1), time(), UTC)
        figures = count_figures(uow.session, Period(school_ids, start, end), now)
        for school_id in school_ids:
            uow.audit.add(
                "reports.viewed",
                f"school:{school_id}",
                actor_id=query.actor_id,
                school_id=school_id,
                new_values={
                    "from": query.date_from.isoformat(),
                    "to": query.date_to.isoformat(),
                    "trust_wide": scope.trust_wide,
                },
                occurred_at=now,
            )
        uow.commit()
        return Report(scope, figures)


def _schools(uow: SqlAlchemyUnitOfWork, query: ReadReport) -> tuple[int, ...]:
    if query.school_id is not None:
        roles = uow.users.roles_in(query.actor_id, query.school_id)
        enforce(can_read_reports(roles), f"school {query.school_id}")
        return (query.school_id,)
    mine = [
        school_id
        for school_id in uow.users.school_ids_of(query.actor_id)
        if REPORT_ROLES.intersection(uow.users.roles_in(query.actor_id, school_id))
    ]
    if not mine:
        raise AccessDenied("reports are for the DSL, the headteacher and auditors")
    return tuple(sorted(mine))


def _name(uow: SqlAlchemyUnitOfWork, school_id: int) -> str:
    school = uow.schools.get(school_id)
    return school.name if school is not None else f"School {school_id}"
