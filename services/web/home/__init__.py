"""The start page after sign-in."""

from services.web.home.views import bp

__all__ = ["bp"]
