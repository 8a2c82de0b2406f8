"""Cloudflare Workflows on Lambda durable functions: the binding, the workflow API, and the errors of both.

```python
class AnalysisWorkflow(WorkflowEntrypoint):
    def run(self, event, step):
        @step.do("fetch", config={"retries": {"limit": 3, "delay": "5 seconds", "backoff": "linear"}})
        def fetch():
            return load(event.payload["symbol"])

        bars = fetch()
        step.sleep("cool down", "1 hour")
        approval = step.wait_for_event("approve", "approval", timeout="2 days")
        return {"bars": len(bars), "approved": approval.payload}

instance = env.ANALYSIS_WORKFLOW.create(id="aapl-2026-03-09", params={"symbol": "AAPL"})
instance.status()    # {"status": "waiting", "error": None, "output": None}
instance.send_event(type="approval", payload=True)
```
"""

from ttai.bindings.workflows.backend import WorkflowBackend
from ttai.bindings.workflows.binding import Workflow, WorkflowInstance
from ttai.bindings.workflows.errors import (
    InstanceAlreadyExists,
    InstanceNotFound,
    InstanceNotRunning,
    InvalidBatch,
    InvalidEvent,
    InvalidInstanceId,
    NonRetryableError,
    UnsupportedOnDurableFunctions,
    WorkflowError,
    WorkflowFatalError,
    WorkflowStepError,
    WorkflowTimeoutError,
)
from ttai.bindings.workflows.events import WorkflowEvent, WorkflowStepEvent
from ttai.bindings.workflows.runtime import WorkflowEntrypoint, durable_handler
from ttai.bindings.workflows.step import WorkflowStep

__all__ = [
    "InstanceAlreadyExists",
    "InstanceNotFound",
    "InstanceNotRunning",
    "InvalidBatch",
    "InvalidEvent",
    "InvalidInstanceId",
    "NonRetryableError",
    "UnsupportedOnDurableFunctions",
    "Workflow",
    "WorkflowBackend",
    "WorkflowEntrypoint",
    "WorkflowError",
    "WorkflowEvent",
    "WorkflowFatalError",
    "WorkflowInstance",
    "WorkflowStep",
    "WorkflowStepError",
    "WorkflowStepEvent",
    "WorkflowTimeoutError",
    "durable_handler",
]
