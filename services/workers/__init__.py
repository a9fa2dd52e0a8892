"""External-task workers: BPMN service tasks (`camunda:type="external"`) done outside the engine.

The engine publishes a waiting service task as ExternalTaskReady on
`school.<id>.external.<topic>`; a worker for that topic (runner.ExternalTaskWorker, a
messaging consumer) does the job and completes the task through the bus, or marks it failed
after its retries. Jobs: render_pdf.RecordPdfJob (`render_record_pdf`: the incident record as
a PDF for the child protection file). Run them with `safeguard worker` (RabbitMQ), or in the
embedded default with `worker_consumers(runtime)` beside the other in-process consumers.
"""

from services.workers.runner import (
    ExternalTaskMessage,
    ExternalTaskWorker,
    Job,
    WorkerPolicy,
    WorkerStopping,
    worker_consumers,
)

__all__ = [
    "ExternalTaskMessage",
    "ExternalTaskWorker",
    "Job",
    "WorkerPolicy",
    "WorkerStopping",
    "worker_consumers",
]
