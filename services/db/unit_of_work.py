"""The unit of work: one session, one transaction per command, committed explicitly."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from services.db.errors import ConcurrentUpdate
from services.db.models import Incident
from services.db.repositories import (
    ApiTokenRepository,
    AuditRepository,
    BreakGlassGrantRepository,
    ChildRepository,
    DefinitionRepository,
    DocumentRepository,
    ExternalTaskRepository,
    IncidentRepository,
    InvitationRepository,
    NotificationRepository,
    OutboxRepository,
    ProcessedMessageRepository,
    SchoolRepository,
    SignInThrottleRepository,
    TaskRepository,
    UserRepository,
)


class SqlAlchemyUnitOfWork:
    """A command's transaction: state, tasks, audit and outbox are written together or not at all.

    Use as a context manager; anything not committed when the block ends is rolled back.
    Objects loaded in the block stay readable after it, detached (changes made to them after
    the last commit() were not saved).
    Each `with` opens a fresh session, so one instance may be entered again after it exits.
    """

    schools: SchoolRepository
    users: UserRepository
    tokens: ApiTokenRepository
    break_glass: BreakGlassGrantRepository
    invitations: InvitationRepository
    throttles: SignInThrottleRepository
    definitions: DefinitionRepository
    incidents: IncidentRepository
    tasks: TaskRepository
    external_tasks: ExternalTaskRepository
    documents: DocumentRepository
    children: ChildRepository
    audit: AuditRepository
    outbox: OutboxRepository
    processed: ProcessedMessageRepository
    notifications: NotificationRepository

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The session of the open unit of work (for queries the repositories lack yet)."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use it as `with uow:`")
        return self._session

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("the unit of work is already open: nested `with uow:` blocks")
        session = self._session_factory()
        self._session = session
        self.schools = SchoolRepository(session)
        self.users = UserRepository(session)
        self.tokens = ApiTokenRepository(session)
        self.break_glass = BreakGlassGrantRepository(session)
        self.invitations = InvitationRepository(session)
        self.throttles = SignInThrottleRepository(session)
        self.definitions = DefinitionRepository(session)
        self.incidents = IncidentRepository(session)
        self.tasks = TaskRepository(session)
        self.external_tasks = ExternalTaskRepository(session)
        self.documents = DocumentRepository(session)
        self.children = ChildRepository(session)
        self.audit = AuditRepository(session)
        self.outbox = OutboxRepository(session)
        self.processed = ProcessedMessageRepository(session)
        self.notifications = NotificationRepository(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session = self.session
        self._session = None
        try:
            if exc is not None:
                session.rollback()
        finally:
            # close() rolls back whatever was not committed, and leaves what was loaded
            # readable (detached), so a view can render it after the block.
            session.close()
        if isinstance(exc, StaleDataError):
            # An autoflush inside the block hit the version check before commit() did.
            raise ConcurrentUpdate((), str(exc)) from exc

    def commit(self) -> None:
        """Commit everything the command wrote; ConcurrentUpdate if an incident went stale."""
        session = self.session
        changed = tuple(sorted(o.id for o in session.dirty if isinstance(o, Incident)))
        try:
            session.commit()
        except StaleDataError as exc:
            session.rollback()
            raise ConcurrentUpdate(changed, str(exc)) from exc

    def rollback(self) -> None:
        """Throw away everything written since the last commit."""
        self.session.rollback()
