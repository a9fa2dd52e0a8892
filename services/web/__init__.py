"""The web app: GOV.UK pages for staff, signing in, and (next) incidents, inbox and JSON API."""

from services.web.app import create_app

__all__ = ["create_app"]
