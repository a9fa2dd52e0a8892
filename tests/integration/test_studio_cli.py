"""`safeguard process deploy`: the command line goes through the studio's checks and four eyes
(two different process admins of one school); `safeguard init` deploys bpmn/ on first install
only, and leaves the versions untouched (saying so) when the models changed since."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.bootstrap import bootstrap
from services.config import Settings
from services.db.models import DefinitionVersion, ProcessDraft

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
            other = uow.schools.add("Other CLI School", "other-cli-school")
            uow.session.flush()
            people = {
                "one@cli.test": (school.id, "process_admin"),
                "two@cli.test": (school.id, "process_admin"),
                "elsewhere@cli.test": (other.id, "process_admin"),
                "staff@cli.test": (school.id, "staff"),
            }
            for email, (school_id, role) in people.items():
                user = uow.users.add(email, email, "not-a-hash")
                uow.session.flush()
                uow.users.grant(user.id, school_id, role)
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


def counts(env: dict[str, str]) -> tuple[int, int]:
    """(process versions, drafts) in the instance's database."""
    runtime = bootstrap(Settings.from_env(env))
    try:
        with runtime.unit_of_work() as uow:
            versions = uow.session.scalar(select(func.count()).select_from(DefinitionVersion))
            drafts = uow.session.scalar(select(func.count()).select_from(ProcessDraft))
            return int(versions or 0), int(drafts or 0)
    finally:
        runtime.close()


def test_a_deploy_needs_a_second_process_admin(instance: dict[str, str]) -> None:
    changed(instance, 'label="How did it come to light?"', 'label="How did we learn of it?"')
    alone = deploy(instance, "one@cli.test", "one@cli.test")
    assert alone.returncode == 1
    assert "four eyes" in alone.stderr and "cannot approve it" in alone.stderr
    assert counts(instance) == (1, 0)  # refused before anything was made
    done = deploy(instance, "one@cli.test", "two@cli.test")
    assert done.returncode == 0, done.stderr
    assert "Published: sharing_nudes_response version 2" in done.stdout


@pytest.mark.parametrize(
    ("actor", "approver", "message"),
    [
        ("staff@cli.test", "two@cli.test", "staff@cli.test (--actor) is not a process admin"),
        ("one@cli.test", "staff@cli.test", "staff@cli.test (--approver) is not a process admin"),
        ("one@cli.test", "elsewhere@cli.test", "not a process admin of a school where"),
        ("one@cli.test", "nobody@cli.test", "no user has the email 'nobody@cli.test'"),
    ],
)
def test_a_deploy_needs_two_process_admins_of_one_school(
    instance: dict[str, str], actor: str, approver: str, message: str
) -> None:
    changed(instance, 'label="How did it come to light?"', 'label="How did we learn of it?"')
    refused = deploy(instance, actor, approver)
    assert refused.returncode == 1
    assert message in refused.stderr and "Not deployed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert counts(instance) == (1, 0)


def test_a_deploy_that_breaks_a_statutory_route_is_refused(instance: dict[str, str]) -> None:
    changed(instance, "immediate_referral == True", "immediate_referral == False")
    refused = deploy(instance, "one@cli.test", "two@cli.test")
    assert refused.returncode == 1
    assert "statutory scenario 'referral-adult-involved' failed" in refused.stderr
    assert counts(instance)[0] == 1


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('label="How did it come to light?"', 'label="How did we learn of it?"'),
        ("immediate_referral == True", "immediate_referral == False"),
    ],
)
def test_init_after_the_first_install_leaves_the_versions_and_says_so(
    instance: dict[str, str], old: str, new: str
) -> None:
    changed(instance, old, new)
    again = run(instance, "init")
    assert again.returncode == 0, again.stderr
    assert "Not deployed:" in again.stderr
    assert "version 1" in again.stderr and "untouched" in again.stderr
    assert "safeguard process deploy" in again.stderr
    assert counts(instance) == (1, 0)


def test_init_again_with_unchanged_models_deploys_nothing(instance: dict[str, str]) -> None:
    again = run(instance, "init")
    assert again.returncode == 0, again.stderr
    assert "Unchanged: sharing_nudes_response version 1" in again.stdout
    assert "Not deployed" not in again.stderr
    assert counts(instance) == (1, 0)
