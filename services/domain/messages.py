"""The base of every message the bus handles; its type parameter is what the handler returns."""

from __future__ import annotations

from typing import Generic, TypeVar

R = TypeVar("R", covariant=True)


class Message(Generic[R]):
    """A command or query; `MessageBus.handle` returns an R for a Message[R]."""
