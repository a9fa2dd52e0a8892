"""Restored process specs kept per thread, so a command does not rebuild an 87 KB spec each time.

Why per thread: SpiffWorkflow specs are not thread-safe (Camunda multi-instance tasks mutate
theirs while running), so a thread only ever reuses the specs it restored itself. Specs with
multi-instance tasks are never cached. Each cached spec is keyed by the definition's digest:
definitions are immutable, so an entry can never go stale.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from workflow.definition import Definition
from workflow.spiff_runtime import SERIALIZER_VERSION, VERSION_KEY, thread_serializer

MAX_SPECS_PER_THREAD = 16

SpecObjects = tuple[Any, dict[str, Any]]  # (process spec, {name: subprocess spec})

_local = threading.local()


def cached_specs(definition: Definition) -> SpecObjects | None:
    """This thread's restored specs for the definition, or None when they must not be reused."""
    cache: OrderedDict[str, SpecObjects | None] = getattr(_local, "specs", None) or OrderedDict()
    _local.specs = cache
    if definition.digest in cache:
        cache.move_to_end(definition.digest)
        return cache[definition.digest]
    specs = _restore(definition)
    cache[definition.digest] = specs
    if len(cache) > MAX_SPECS_PER_THREAD:
        cache.popitem(last=False)
    return specs


def _restore(definition: Definition) -> SpecObjects | None:
    document: dict[str, Any] = json.loads(definition.spec)
    if document.get(VERSION_KEY) != SERIALIZER_VERSION or "MultiInstance" in definition.spec:
        return None
    registry = thread_serializer().registry
    spec = registry.restore(document["spec"])
    subprocess_specs = {
        name: registry.restore(sub) for name, sub in document["subprocess_specs"].items()
    }
    return spec, subprocess_specs
