"""The `render_record_pdf` job: file the incident record as a PDF in `documents`.

Reads the record in one short transaction, draws the PDF with no transaction open, then
stores it in another; the result handed back to the process names the document. A job run
again for the same task (a crash before its completion committed, say) finds the document it
stored and hands back the same result, instead of filing a second copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.db.models import Document
from services.domain.dependencies import Dependencies
from services.workers.pdf_layout import record_pdf
from services.workers.record import IncidentRecord, read_record
from services.workers.runner import ExternalTaskMessage

TOPIC = "render_record_pdf"
KIND = "record_pdf"
Renderer = Callable[..., bytes]


class RecordPdfJob:
    """Renders an incident's record to PDF and stores it; `renderer` is swappable for tests."""

    topic = TOPIC

    def __init__(
        self, deps: Dependencies, worker_name: str, renderer: Renderer = record_pdf
    ) -> None:
        self._deps = deps
        self._worker_name = worker_name[:100]
        self._renderer = renderer

    def run(self, task: ExternalTaskMessage) -> dict[str, Any]:
        """Render and store the record (once per task); return what the process records."""
        stored = self._stored(task.task_id)
        if stored is not None:
            return _result(stored)
        record = read_record(self._deps, task.incident_id)
        content = self._renderer(record, self._deps.clock.now())
        if not content.startswith(b"%PDF-"):
            raise ValueError(f"the renderer did not produce a PDF for task {task.task_id}")
        return _result(self._store(task, record, content))

    def _stored(self, task_id: str) -> Document | None:
        with self._deps.uow_factory() as uow:
            return uow.documents.for_task(task_id)

    def _store(self, task: ExternalTaskMessage, record: IncidentRecord, content: bytes) -> Document:
        now = self._deps.clock.now()
        with self._deps.uow_factory() as uow:
            document = uow.documents.add(
                incident_id=task.incident_id,
                kind=KIND,
                filename=f"incident-record-{record.reference}.pdf",
                content=content,
                created_by_worker=self._worker_name,
                task_id=task.task_id,
                created_at=now,
            )
            uow.audit.add(
                "document.created",
                f"document:{document.id}",
                actor_id=None,
                school_id=task.school_id,
                incident_id=task.incident_id,
                new_values={
                    "kind": KIND,
                    "sha256": document.sha256,
                    "size": len(content),
                    "worker": self._worker_name,
                    "task_id": task.task_id,
                },
                occurred_at=now,
            )
            try:
                uow.commit()
            except IntegrityError:
                uow.rollback()  # another run of this task stored it first: use that one
                existing = uow.documents.for_task(task.task_id)
                if existing is None:
                    raise
                return existing
            return document


def _result(document: Document) -> dict[str, Any]:
    return {"record_pdf_document_id": document.id, "record_pdf_sha256": document.sha256}
