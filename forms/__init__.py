"""Forms built at run time from a user task's form spec, rendered with the GOV.UK Design System."""

from forms.attachments import AttachmentRefused, check_document
from forms.builder import build_form_class
from forms.rendering import init_app
from forms.task_form import TaskForm, apply_errors

__all__ = [
    "AttachmentRefused",
    "TaskForm",
    "apply_errors",
    "build_form_class",
    "check_document",
    "init_app",
]
