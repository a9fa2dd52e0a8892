"""Lane checks: lane ids are role ids, and every user task sits in exactly one lane."""

from __future__ import annotations

from collections import defaultdict

from workflow.errors import DiagramProblem
from workflow.lint_common import DiagramFile, Element, bpmn_all, element_text, is_role_id


def check_lanes(diagram: DiagramFile) -> list[DiagramProblem]:
    """Lane ids must be role ids, lanes flat, and each user task in one lane of its process."""
    problems = []
    for lane in bpmn_all(diagram.root, "lane"):
        lane_id = lane.get("id", "")
        if not is_role_id(lane_id):
            problems.append(
                diagram.problem(
                    lane,
                    f"lane id {lane_id!r} is not a role id: use a lowercase identifier naming "
                    "the role, e.g. 'dsl' or 'staff' (the lane's name is what people read)",
                )
            )
        if bpmn_all(lane, "childLaneSet"):
            problems.append(
                diagram.problem(lane, "nested lanes are not supported: use one flat lane per role")
            )
    for process in bpmn_all(diagram.root, "process"):
        problems.extend(_check_user_tasks(diagram, process))
    return problems


def _check_user_tasks(diagram: DiagramFile, process: Element) -> list[DiagramProblem]:
    lanes_of: dict[str, list[str]] = defaultdict(list)
    lanes = bpmn_all(process, "lane")
    for lane in lanes:
        for ref in bpmn_all(lane, "flowNodeRef"):
            lanes_of[element_text(ref)].append(lane.get("id", ""))
    problems = []
    for task in bpmn_all(process, "userTask"):
        owners = lanes_of[task.get("id", "")]
        if len(owners) == 1:
            continue
        if not owners and not lanes:
            message = (
                "user task is outside any lane: the process has no lanes; add a lane per role "
                "(lane id = role id, e.g. 'dsl') and put the task in the lane of its role"
            )
        elif not owners:
            message = (
                "user task is outside any lane: move it into the lane of the role that does it"
            )
        else:
            message = (
                f"user task is in more than one lane ({', '.join(owners)}): a task has one "
                "owning role; keep it in one lane"
            )
        problems.append(diagram.problem(task, message))
    return problems
