"""The handlers of issue 11's messages, for the bus to register in one line."""

from __future__ import annotations

from typing import Any

from services.domain.children import messages
from services.domain.handlers import (
    children,
    chronology,
    reports,
    retention,
    subject_access,
    transfers,
)
from services.domain.reports.messages import ReadReport


def handlers() -> dict[type[Any], Any]:
    """Each children message type with its handler."""
    return {
        messages.NameChild: children.name_child,
        messages.ConfirmChild: children.confirm_child,
        messages.MergeChildren: children.merge_children,
        messages.AddParty: children.add_party,
        messages.PeopleOfIncident: children.people_of_incident,
        messages.SchoolChildren: children.school_children,
        messages.ReadChronology: chronology.read_chronology,
        ReadReport: reports.read_report,
        messages.SendFile: transfers.send_file,
        messages.RecordReceipt: transfers.record_receipt,
        messages.AcceptTransfer: transfers.accept_transfer,
        messages.ReadTransfers: transfers.read_transfers,
        messages.ReadTransfer: transfers.read_transfer,
        messages.ExportTransferPack: transfers.export_transfer_pack,
        messages.ReviewQueue: retention.review_queue,
        messages.ReadRetention: retention.read_retention,
        messages.KeepRecord: retention.keep_record,
        messages.SetLegalHold: retention.set_legal_hold,
        messages.DeleteIncident: retention.delete_incident,
        messages.SetRetentionYears: retention.set_retention_years,
        messages.SubjectAccessExport: subject_access.subject_access_export,
    }
