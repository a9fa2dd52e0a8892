"""Signing in and out, the second factor, and who is signed in (for every other blueprint).

For other areas:
- `login_required` (decorator) and `current_user()` for pages;
- `load_user_from_bearer(request)` for the JSON API (exempt its blueprint from CSRF with
  `services.web.extensions.exempt_from_csrf`);
- `SignedInUser.roles_in(school_id)` for what the access policy needs to know.
"""

from services.web.auth import account_views as _account_views  # noqa: F401  # its routes, on bp
from services.web.auth import sso as _sso  # noqa: F401  # its routes, on bp
from services.web.auth.identity import (
    SchoolRoles,
    SignedInUser,
    current_user,
    login_required,
)
from services.web.auth.tokens import issue_api_token, load_user_from_bearer
from services.web.auth.views import bp

__all__ = [
    "SchoolRoles",
    "SignedInUser",
    "bp",
    "current_user",
    "issue_api_token",
    "load_user_from_bearer",
    "login_required",
]
