"""The serializer is built once per thread, and never shared between threads."""

from __future__ import annotations

import threading

from workflow.spiff_runtime import thread_serializer


def test_a_thread_reuses_its_serializer_and_another_thread_builds_its_own() -> None:
    mine = thread_serializer()
    assert thread_serializer() is mine
    theirs: list[object] = []
    worker = threading.Thread(target=lambda: theirs.extend([thread_serializer()] * 2))
    worker.start()
    worker.join()
    assert theirs[0] is theirs[1] and theirs[0] is not mine
    assert mine.registry._encoder_mode is False  # no command left it half-way
