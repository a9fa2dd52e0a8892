"""The app's extensions and how views reach the runtime: CSRF protection and units of work.

Everything here is created unbound and attached in `create_app` (Flask's init_app pattern), so
importing this module builds nothing and several apps (tests) can live in one process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, Flask, current_app
from flask_wtf.csrf import CSRFProtect

from services.db import SqlAlchemyUnitOfWork
from services.runtime import Runtime

RUNTIME_KEY = "safeguard.runtime"

csrf = CSRFProtect()

_Target = TypeVar("_Target", bound=Blueprint | Callable[..., object])


def init_runtime(app: Flask, runtime: Runtime) -> None:
    """Attach the runtime (engine, session factory, clock, settings) to the app."""
    app.extensions[RUNTIME_KEY] = runtime


def runtime() -> Runtime:
    """Return the runtime of the current app (inside a request or app context)."""
    found = current_app.extensions.get(RUNTIME_KEY)
    if not isinstance(found, Runtime):
        raise RuntimeError("this app has no runtime: build it with services.web.create_app")
    return found


def unit_of_work() -> SqlAlchemyUnitOfWork:
    """Return a new unit of work on the current app's database (enter it with `with`)."""
    return runtime().unit_of_work()


def exempt_from_csrf(target: _Target) -> _Target:
    """Exempt a blueprint or view from CSRF checks: ONLY for bearer-token endpoints.

    A view exempted here must authenticate by `load_user_from_bearer` alone and never by the
    session cookie, or any site could make a signed-in browser call it. Use as a decorator on a
    view, or call with the JSON API's blueprint before registering it.
    """
    return csrf.exempt(target)  # type: ignore[no-any-return]
