"""Deployed definition versions as engine Definitions, cached: versions never change."""

from __future__ import annotations

import threading
from collections import OrderedDict

from services.db import SqlAlchemyUnitOfWork
from workflow.definition import Definition
from workflow.model import SourceFile

DEFAULT_CACHE_SIZE = 32


class DefinitionNotFound(LookupError):
    """An incident points at a definition version that is not in the database."""


class DefinitionCache:
    """Definitions by version id for ONE database (ids are only unique there).

    Holds immutable strings, never parsed Spiff objects, so threads may share it: the engine
    deserializes a fresh workflow from the spec for every command.
    """

    def __init__(self, size: int = DEFAULT_CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[int, Definition] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, uow: SqlAlchemyUnitOfWork, version_id: int) -> Definition:
        """Return the Definition of a stored version, loading it through `uow` on a miss."""
        with self._lock:
            cached = self._entries.get(version_id)
            if cached is not None:
                self._entries.move_to_end(version_id)
                return cached
        definition = load_version(uow, version_id)
        with self._lock:
            self._entries[version_id] = definition
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return definition


def load_version(uow: SqlAlchemyUnitOfWork, version_id: int) -> Definition:
    """Build the engine's Definition from a stored version (spec, sources, process ids)."""
    version = uow.definitions.get_version(version_id)
    if version is None:
        raise DefinitionNotFound(f"definition version {version_id} is not in the database")
    sources = tuple(
        SourceFile(name=str(s["name"]), content=str(s["content"]).encode("utf-8"))
        for s in version.sources
    )
    return Definition(
        process_id=version.definition.process_id,
        name=version.definition.name,
        spec=version.spec,
        digest=version.digest,
        sources=sources,
        user_tasks=(),  # only admin views need these; they parse the sources themselves
    )
