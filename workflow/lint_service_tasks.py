"""Service task checks: only Camunda external tasks (a worker does them), each with a topic."""

from __future__ import annotations

from workflow.errors import DiagramProblem
from workflow.lint_common import CAMUNDA_NS, DiagramFile, Element, bpmn_all, is_topic

# Ways Camunda can implement a service task that run code in the engine: none is supported.
_IN_ENGINE = {
    "class": "a Java class (camunda:class)",
    "expression": "an expression (camunda:expression)",
    "delegateExpression": "a delegate expression (camunda:delegateExpression)",
}
_EXTERNAL_HINT = (
    'make it an external task: camunda:type="external" with camunda:topic naming the worker, '
    "e.g. 'render_record_pdf'"
)


def check_service_tasks(diagram: DiagramFile) -> list[DiagramProblem]:
    """Every service task is `camunda:type="external"` with a topic that is an identifier."""
    problems = []
    for task in bpmn_all(diagram.root, "serviceTask"):
        message = _problem_with(task)
        if message:
            problems.append(diagram.problem(task, message))
    return problems


def _problem_with(task: Element) -> str:
    kind = task.get(f"{{{CAMUNDA_NS}}}type")
    topic = task.get(f"{{{CAMUNDA_NS}}}topic")
    if kind != "external":
        used = [words for attribute, words in _IN_ENGINE.items() if _camunda(task, attribute)]
        if kind:
            used.insert(0, f'camunda:type="{kind}"')
        if task.find(f".//{{{CAMUNDA_NS}}}connector") is not None:
            used.append("a connector (camunda:connector)")
        how = f" implemented by {' and '.join(used)}" if used else " with no implementation"
        return f"service task{how} is not supported: {_EXTERNAL_HINT}"
    if topic is None or not topic.strip():
        return f"external task has no camunda:topic: {_EXTERNAL_HINT}"
    if not is_topic(topic):
        return (
            f"external task topic {topic!r} is not an identifier: use letters, digits and '_' "
            "(it is a word of the routing key workers bind to), e.g. 'render_record_pdf'"
        )
    return ""


def _camunda(task: Element, attribute: str) -> bool:
    return bool((task.get(f"{{{CAMUNDA_NS}}}{attribute}") or "").strip())
