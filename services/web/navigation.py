"""The service navigation under the header: each area adds its own link when it registers.

    add_navigation(app, "Incidents", "incidents.index", visible=lambda user: bool(user.schools))

Links show only to signed-in people, in the order they were added; a link is marked as the
current page when it is, or as active when the page belongs to its area (blueprint).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request, url_for

from services.web.auth.identity import SignedInUser, current_user

NAVIGATION_KEY = "safeguard.navigation"


@dataclass(frozen=True)
class NavigationLink:
    """One link: its text, the endpoint it points at, and who sees it."""

    text: str
    endpoint: str
    visible: Callable[[SignedInUser], bool]
    areas: tuple[str, ...] | None = None  # blueprints marking it active; None: its endpoint's


def add_navigation(
    app: Flask,
    text: str,
    endpoint: str,
    *,
    visible: Callable[[SignedInUser], bool] = lambda _user: True,
    areas: tuple[str, ...] | None = None,
) -> None:
    """Add a link to the navigation of every page (`areas`: the blueprints it stands for)."""
    app.extensions.setdefault(NAVIGATION_KEY, []).append(
        NavigationLink(text, endpoint, visible, areas)
    )


def navigation_items() -> list[dict[str, Any]]:
    """The links the signed-in user sees, as govukServiceNavigation items."""
    user = current_user()
    if user is None:
        return []
    links: list[NavigationLink] = current_app.extensions.get(NAVIGATION_KEY, [])
    here = request.blueprint if request else None
    items: list[dict[str, Any]] = []
    for link in links:
        if link.visible(user):
            areas = link.areas
            if areas is None:
                areas = (link.endpoint.rpartition(".")[0],)
            items.append(
                {
                    "text": link.text,
                    "href": url_for(link.endpoint),
                    "current": request.endpoint == link.endpoint,
                    "active": here in areas,
                }
            )
    return items


def init_app(app: Flask) -> None:
    """Make `navigation_items()` and `current_user()` available to every template."""
    app.add_template_global(navigation_items, "navigation_items")
    app.add_template_global(current_user, "current_user")
