"""The mapped tables, by area; importing this package registers all of them on Base.metadata."""

from services.db.models.accounts import ROLES, ApiToken, Membership, School, User
from services.db.models.base import Base
from services.db.models.definitions import DefinitionVersion, ProcessDefinition
from services.db.models.incidents import (
    INCIDENT_STATUSES,
    TASK_STATES,
    Child,
    HumanTask,
    Incident,
    IncidentChild,
    IncidentExclusion,
)
from services.db.models.records import AuditEvent, OutboxMessage, ProcessedMessage

__all__ = [
    "INCIDENT_STATUSES",
    "ROLES",
    "TASK_STATES",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Child",
    "DefinitionVersion",
    "HumanTask",
    "Incident",
    "IncidentChild",
    "IncidentExclusion",
    "Membership",
    "OutboxMessage",
    "ProcessDefinition",
    "ProcessedMessage",
    "School",
    "User",
]
