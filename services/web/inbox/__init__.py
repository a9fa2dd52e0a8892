"""The inbox: the tasks a person can act on in each of their schools; claim, hand back and
reassign them (each audited with who and why by the domain's commands)."""

from services.web.inbox.views import bp

__all__ = ["bp"]
