"""The JSON API v1 at /api/v1: bearer tokens, JSON in and out, described at /api/v1/openapi.json.

Register `bp` on the app; its views send commands and queries to the service layer's bus and
render the results, with the same validation and access rules as the HTML pages.
"""

from services.web.api import case_views as _case_views  # noqa: F401  # list, history, PDF
from services.web.api import children_views as _children_views  # noqa: F401  # issue 11
from services.web.api import message_views as _message_views  # noqa: F401  # issue 12
from services.web.api import reports_views as _reports_views  # noqa: F401  # issue 11
from services.web.api import views as _views  # noqa: F401  # defines the routes on bp
from services.web.api.blueprint import bp

__all__ = ["bp"]
