"""The sandbox's CPU-time bound is a setting, applied when the runtime is built."""

from __future__ import annotations

import pytest

from services.config import Settings, SettingsInvalid


def test_the_sandbox_cpu_bound_defaults_to_one_second() -> None:
    assert Settings.from_env({}).sandbox_cpu_ms == 1000


def test_the_sandbox_cpu_bound_is_read_from_the_environment() -> None:
    assert Settings.from_env({"SAFEGUARD_SANDBOX_CPU_MS": "250"}).sandbox_cpu_ms == 250


@pytest.mark.parametrize("raw", ["0", "-5", "fast", "1.5"])
def test_a_sandbox_cpu_bound_that_cannot_work_is_refused_by_name(raw: str) -> None:
    with pytest.raises(SettingsInvalid, match="SAFEGUARD_SANDBOX_CPU_MS"):
        Settings.from_env({"SAFEGUARD_SANDBOX_CPU_MS": raw})
