"""Lanes named by a modeller (`Lane_0x1y2z`) take their role from the lane's 'role' property."""

from __future__ import annotations

from lxml import etree

from workflow.lint_common import bpmn_all, elements, is_role_id
from workflow.lint_lanes import lane_role_property

# Attributes that refer to a lane by id (the diagram's shape of it, mostly).
_REFERENCES = ("bpmnElement",)


def apply_lane_roles(tree: etree._ElementTree) -> None:
    """Give each lane whose id is not a role id the id its 'role' property names, in place.

    The engine routes a task by its lane's id, so the property has to become the id; the
    diagram's shapes that point at the old id are repointed. Nothing else changes.
    """
    root = tree.getroot()
    renames: dict[str, str] = {}
    taken = {element.get("id") for element in elements(root)}
    for lane in bpmn_all(root, "lane"):
        old = lane.get("id", "")
        role = lane_role_property(lane)
        if is_role_id(old) or role is None or not is_role_id(role) or role in taken:
            continue
        lane.set("id", role)
        taken.add(role)
        renames[old] = role
    if not renames:
        return
    for element in elements(root):
        for attribute in _REFERENCES:
            value = element.get(attribute)
            if value in renames:
                element.set(attribute, renames[value])
