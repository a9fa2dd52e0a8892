"""Rendered documents (the record PDF) and the external tasks workers complete."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer

from services.db.models.documents import Document, ExternalTask, new_document_id
from services.db.models.incidents import Incident
from services.db.repositories.paging import check_page


class DocumentRepository:
    """Documents by id, by incident (without their bytes) and by the task that produced them."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        *,
        incident_id: str,
        kind: str,
        filename: str,
        content: bytes,
        created_by_worker: str,
        task_id: str | None = None,
        created_at: datetime | None = None,
    ) -> Document:
        """Add a document with its sha256; it is written when the unit of work commits."""
        document = Document(
            id=new_document_id(),
            incident_id=incident_id,
            kind=kind,
            filename=filename,
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            created_by_worker=created_by_worker,
            task_id=task_id,
        )
        if created_at is not None:
            document.created_at = created_at
        self._session.add(document)
        return document

    def get(self, document_id: str, *, with_content: bool = False) -> Document | None:
        """Return the document with this id (its bytes only when asked for)."""
        options = [undefer(Document.content)] if with_content else []
        return self._session.get(Document, document_id, options=options)

    def for_task(self, task_id: str) -> Document | None:
        """Return the document an external task produced, if it has one."""
        return self._session.scalar(select(Document).where(Document.task_id == task_id))

    def for_incident(self, incident_id: str, *, limit: int = 50) -> list[tuple[Document, int]]:
        """Return an incident's documents with their sizes in bytes, newest first (no bytes)."""
        check_page(limit)
        query = (
            select(Document, func.length(Document.content))
            .where(Document.incident_id == incident_id)
            .order_by(Document.created_at.desc(), Document.id)
            .limit(limit)
        )
        return [(document, int(size or 0)) for document, size in self._session.execute(query)]


class ExternalTaskRepository:
    """External tasks by id, by incident, and the failed ones an operator must look at."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        *,
        task_id: str,
        incident_id: str,
        bpmn_id: str,
        name: str,
        topic: str,
        role: str,
        created_at: datetime | None = None,
    ) -> ExternalTask:
        """Add a waiting external task; it is written when the unit of work commits."""
        task = ExternalTask(
            id=task_id,
            incident_id=incident_id,
            bpmn_id=bpmn_id,
            name=name,
            topic=topic,
            role=role,
            state="waiting",
            attempts=0,
        )
        if created_at is not None:
            task.created_at = created_at
        self._session.add(task)
        return task

    def get(self, task_id: str) -> ExternalTask | None:
        """Return the external task with this id, if any."""
        return self._session.get(ExternalTask, task_id)

    def for_incident(self, incident_id: str, *, state: str | None = None) -> list[ExternalTask]:
        """Return an incident's external tasks (in one state, if given), oldest first."""
        query = select(ExternalTask).where(ExternalTask.incident_id == incident_id)
        if state is not None:
            query = query.where(ExternalTask.state == state)
        return list(self._session.scalars(query.order_by(ExternalTask.created_at, ExternalTask.id)))

    def failed_in(
        self, school_ids: Collection[int], *, limit: int = 20
    ) -> tuple[int, list[tuple[ExternalTask, str]]]:
        """Failed external tasks of these schools: how many, and the newest with references."""
        check_page(limit)
        if not school_ids:
            return 0, []
        where = (ExternalTask.state == "failed", Incident.school_id.in_(sorted(school_ids)))
        count = self._session.scalar(
            select(func.count()).select_from(ExternalTask).join(Incident).where(*where)
        )
        query = (
            select(ExternalTask, Incident.reference)
            .join(Incident, Incident.id == ExternalTask.incident_id)
            .where(*where)
            .order_by(ExternalTask.finished_at.desc(), ExternalTask.id)
            .limit(limit)
        )
        rows = [(task, reference) for task, reference in self._session.execute(query)]
        return int(count or 0), rows
