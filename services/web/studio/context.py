"""The studio's ports for the web layer: the use cases' Studio, built from the app's runtime."""

from __future__ import annotations

from services.domain.studio.drafts import Studio
from services.web.extensions import runtime


def studio() -> Studio:
    """The Studio of this app: its handlers' dependencies and its process folder."""
    app_runtime = runtime()
    return Studio(app_runtime.bus.dependencies, app_runtime.settings.bpmn_dir)
