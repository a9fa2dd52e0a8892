"""Children pages: who is involved in an incident, the school's children, a child's chronology."""

from __future__ import annotations

from flask import Flask

from services.domain.children.access import CHRONOLOGY_ROLES
from services.web.auth.identity import SignedInUser
from services.web.children import retention_views as _retention_views  # noqa: F401  # routes
from services.web.children import transfer_views as _transfer_views  # noqa: F401  # routes
from services.web.children.views import bp
from services.web.navigation import add_navigation


def may_see_children(user: SignedInUser) -> bool:
    """Whether the person reads children's chronologies somewhere: DSL or headteacher."""
    return any(CHRONOLOGY_ROLES & set(school.roles) for school in user.schools)


def register_children_pages(app: Flask) -> None:
    """Add the children blueprint and its "Children" link (DSL and headteacher)."""
    app.register_blueprint(bp)
    add_navigation(app, "Children", "children.school_children", visible=may_see_children)


__all__ = ["bp", "register_children_pages"]
