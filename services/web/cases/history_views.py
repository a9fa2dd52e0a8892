"""Case history pages: the timeline, the access log, field history and corrections."""

from __future__ import annotations
