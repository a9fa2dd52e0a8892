"""`safeguard process deploy`: the command line goes through the studio's checks and four eyes;
a later `safeguard init` with changed models must still pass the statutory scenarios."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.bootstrap import bootstrap
from services.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SAFEGUARD = Path(sys.executable).parent / "safeguard"
BPMN = "sharing-nudes-response.bpmn"
DMN = "immediate-referral.dmn"


@pytest.fixture
def instance(tmp_path: Path) -> dict[str, str]:
    models = tmp_path / "bpmn"
    models.mkdir()
    for name in (BPMN, DMN):
        shutil.copy(ROOT / "bpmn" / name, models / name)
    env = {
        **os.environ,
        "SAFEGUARD_INSTANCE_DIR": str(tmp_path),
        "SAFEGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SAFEGUARD_SECRET_KEY": secrets.token_hex(32),
        "SAFEGUARD_BPMN_DIR": str(models),
    }
    assert run(env, "init").returncode == 0
    runtime = bootstrap(Settings.from_env(env))
    try:
        with runtime.unit_of_work() as uow:
            school = uow.schools.add("CLI School", "cli-school")
            for email in ("one@cli.test", "two@cli.test"):
                user = uow.users.add(email, email, "not-a-hash")
                uow.session.flush()
                uow.users.grant(user.id, school.id, "process_admin")
            uow.commit()
    finally:
        runtime.close()
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SAFEGUARD), *args], env=env, capture_output=True, text=True, timeout=600
    )


def changed(env: dict[str, str], old: str, new: str) -> Path:
    path = Path(env["SAFEGUARD_BPMN_DIR"]) / BPMN
    path.write_text(path.read_text().replace(old, new, 1))
    return path


def deploy(env: dict[str, str], actor: str, approver: str) -> subprocess.CompletedProcess[str]:
    models = Path(env["SAFEGUARD_BPMN_DIR"])
    return run(
        env,
        "process",
        "deploy",
        str(models / BPMN),
        str(models / DMN),
        "--note",
        "a test change",
        "--actor",
        actor,
        "--approver",
        approver,
    )


def test_a_deploy_needs_a_second_process_admin(instance: dict[str, str]) -> None:
    changed(instance, 'label="How did it come to light?"', 'label="How did we learn of it?"')
    alone = deploy(instance, "one@cli.test", "one@cli.test")
    assert alone.returncode == 1
    assert "cannot approve it" in alone.stderr
    done = deploy(instance, "one@cli.test", "two@cli.test")
    assert done.returncode == 0, done.stderr
    assert "Published: sharing_nudes_response version 2" in done.stdout


def test_a_deploy_that_breaks_a_statutory_route_is_refused(instance: dict[str, str]) -> None:
    changed(instance, "immediate_referral == True", "immediate_referral == False")
    refused = deploy(instance, "one@cli.test", "two@cli.test")
    assert refused.returncode == 1
    assert "statutory scenario 'referral-adult-involved' failed" in refused.stderr
    again = run(instance, "init")  # nor can `init` deploy the changed models
    assert again.returncode != 0
    assert "referral-adult-involved" in again.stderr
