"""Download a document the system rendered for an incident: same access as the record, logged."""

from __future__ import annotations

from services.domain.access import can_view_incident, clean_reason
from services.domain.dependencies import Dependencies
from services.domain.errors import AccessDenied, NotFound
from services.domain.events import BreakGlassUsed
from services.domain.handlers.common import enforce, user_facts, write_outbox
from services.domain.handlers.views import reads_whole_record
from services.domain.queries import DownloadDocument
from services.domain.read_models import DocumentFile


def download_document(query: DownloadDocument, deps: Dependencies) -> DocumentFile:
    """Check the reader may see the incident, log 'document.downloaded', return the bytes."""
    now = deps.clock.now()
    with deps.uow_factory() as uow:
        document = uow.documents.get(query.document_id, with_content=True)
        incident = uow.incidents.get(document.incident_id) if document is not None else None
        wrong_incident = query.incident_id not in (None, document and document.incident_id)
        if document is None or incident is None or wrong_incident:
            raise NotFound(f"document {query.document_id} not found")
        facts = user_facts(uow, incident, query.actor_id)
        decision = can_view_incident(
            facts.roles, facts.is_involved, facts.is_excluded, query.break_glass_reason
        )
        # Worded as for a missing document: who may not see the incident learns nothing.
        enforce(decision, f"document {query.document_id}")
        if not reads_whole_record(uow, deps, incident, query.actor_id, facts, decision):
            # The PDF holds every step: the reporter and assignees read only their part.
            raise AccessDenied(
                f"document {query.document_id}: the record PDF holds the whole record, "
                "which only the DSL team, the headteacher and auditors read"
            )
        break_glass = decision.via == "break_glass"
        uow.audit.add(
            "document.downloaded",
            f"document:{document.id}",
            actor_id=query.actor_id,
            school_id=incident.school_id,
            incident_id=incident.id,
            reason=clean_reason(query.break_glass_reason) if break_glass else None,
            new_values={
                "kind": document.kind,
                "sha256": document.sha256,
                "via": decision.via,
                "break_glass": break_glass,
            },
            occurred_at=now,
        )
        if break_glass:
            write_outbox(uow, [BreakGlassUsed(incident.school_id, incident.id, query.actor_id)])
        uow.commit()
        return DocumentFile(document.id, incident.id, document.filename, document.content)
