"""The administration area (/admin): schools, people, invitations, roles, and accepting one.

Administrators (the `admin` role) manage the schools where they hold it; everything they do is
audited by services.domain.people. The invitation page (/invitations/<token>) is public: the
one-time token is the key.
"""

from services.web.admin.views import bp, register_admin_pages

__all__ = ["bp", "register_admin_pages"]
