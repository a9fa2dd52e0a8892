"""Lane checks: lane ids are role ids, and every user task sits in exactly one lane."""

from __future__ import annotations

from collections import defaultdict

from workflow.errors import DiagramProblem
from workflow.lint_common import NS, DiagramFile, Element, bpmn_all, element_text, is_role_id

ROLE_PROPERTY = "role"


def check_lanes(diagram: DiagramFile) -> list[DiagramProblem]:
    """Lane ids must be role ids, lanes flat, and each user task in one lane of its process."""
    problems = []
    for lane in bpmn_all(diagram.root, "lane"):
        lane_id = lane.get("id", "")
        role = lane_role_property(lane)
        if role is not None and not is_role_id(role):
            problems.append(
                diagram.problem(
                    lane,
                    f"lane property 'role' is {role!r}, not a role id: give a lowercase role "
                    "id such as 'dsl', 'headteacher' or 'staff'",
                )
            )
        elif role is None and not is_role_id(lane_id):
            problems.append(
                diagram.problem(
                    lane,
                    f"lane id {lane_id!r} is not a role id: select the lane and add the "
                    "extension property 'role' with the role id as its value (e.g. 'dsl'), "
                    "or rename the lane's id to the role id (the lane's name is what people read)",
                )
            )
        if bpmn_all(lane, "childLaneSet"):
            problems.append(
                diagram.problem(lane, "nested lanes are not supported: use one flat lane per role")
            )
    for process in bpmn_all(diagram.root, "process"):
        problems.extend(_check_user_tasks(diagram, process))
    return problems


def lane_role_property(lane: Element) -> str | None:
    """The lane's extension property 'role' (Camunda Modeler: Extension properties), if set."""
    for prop in lane.iterfind("bpmn:extensionElements/camunda:properties/camunda:property", NS):
        if ROLE_PROPERTY in (prop.get("name"), prop.get("id")):
            return (prop.get("value") or "").strip()
    return None


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
