"""The mapped tables, by area; importing this package registers all of them on Base.metadata."""

from services.db.models.accounts import ROLES, ApiToken, Membership, School, User
from services.db.models.audit_chain import AuditChainHead, AuditVerification
from services.db.models.base import Base
from services.db.models.cases import ANSWER_KINDS, CaseAnswer, IncidentCaseFacts
from services.db.models.children import (
    CHILD_ROLES,
    FileTransfer,
    IncidentParty,
    IncidentReportRow,
    IncidentRetention,
    ReportProgress,
    RetentionPolicy,
)
from services.db.models.definitions import DefinitionVersion, ProcessDefinition
from services.db.models.documents import (
    DOCUMENT_KINDS,
    EXTERNAL_TASK_STATES,
    Document,
    ExternalTask,
)
from services.db.models.identity import BreakGlassGrant, Invitation, SignInThrottle
from services.db.models.incidents import (
    INCIDENT_STATUSES,
    TASK_STATES,
    Child,
    HumanTask,
    Incident,
    IncidentChild,
    IncidentExclusion,
)
from services.db.models.notifications import NOTIFICATION_KINDS, EmailDelivery, Notification
from services.db.models.records import AuditEvent, OutboxMessage, ProcessedMessage
from services.db.models.step_history import StepRecord
from services.db.models.studio import (
    DRAFT_STATES,
    DraftSave,
    ProcessDraft,
    ProcessRelease,
    SchoolProcessVersion,
)

__all__ = [
    "ANSWER_KINDS",
    "CHILD_ROLES",
    "DOCUMENT_KINDS",
    "DRAFT_STATES",
    "EXTERNAL_TASK_STATES",
    "INCIDENT_STATUSES",
    "NOTIFICATION_KINDS",
    "ROLES",
    "TASK_STATES",
    "ApiToken",
    "AuditChainHead",
    "AuditEvent",
    "AuditVerification",
    "Base",
    "BreakGlassGrant",
    "CaseAnswer",
    "Child",
    "DefinitionVersion",
    "Document",
    "DraftSave",
    "EmailDelivery",
    "ExternalTask",
    "FileTransfer",
    "HumanTask",
    "Incident",
    "IncidentCaseFacts",
    "IncidentChild",
    "IncidentExclusion",
    "IncidentParty",
    "IncidentReportRow",
    "IncidentRetention",
    "Invitation",
    "Membership",
    "Notification",
    "OutboxMessage",
    "ProcessDefinition",
    "ProcessDraft",
    "ProcessRelease",
    "ProcessedMessage",
    "ReportProgress",
    "RetentionPolicy",
    "School",
    "SchoolProcessVersion",
    "SignInThrottle",
    "StepRecord",
    "User",
]
