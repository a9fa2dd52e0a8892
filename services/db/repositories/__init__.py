"""Repositories: small classes with explicit queries, one per area, all bound to a session."""

from services.db.repositories.accounts import (
    ApiTokenRepository,
    SchoolRepository,
    UserRepository,
    hash_token,
)
from services.db.repositories.definitions import DefinitionRepository
from services.db.repositories.documents import DocumentRepository, ExternalTaskRepository
from services.db.repositories.identity import (
    BreakGlassGrantRepository,
    InvitationRepository,
    SignInThrottleRepository,
)
from services.db.repositories.incidents import ChildRepository, IncidentRepository
from services.db.repositories.notifications import NotificationRepository
from services.db.repositories.paging import MAX_PAGE_SIZE
from services.db.repositories.records import (
    AuditRepository,
    OutboxRepository,
    ProcessedMessageRepository,
)
from services.db.repositories.tasks import TaskRepository

__all__ = [
    "MAX_PAGE_SIZE",
    "ApiTokenRepository",
    "AuditRepository",
    "BreakGlassGrantRepository",
    "ChildRepository",
    "DefinitionRepository",
    "DocumentRepository",
    "ExternalTaskRepository",
    "IncidentRepository",
    "InvitationRepository",
    "NotificationRepository",
    "OutboxRepository",
    "ProcessedMessageRepository",
    "SchoolRepository",
    "SignInThrottleRepository",
    "TaskRepository",
    "UserRepository",
    "hash_token",
]
