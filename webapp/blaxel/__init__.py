"""The Blaxel control-plane API, as a closed box: HTTP and Blaxel, nothing of Flask or the UI.

client.BlaxelClient (one method per endpoint) → cache.CachedClient (same methods, shared answers
and the 429 hold) → session.Session (what one page or export calls, within one deadline).
logs.py holds everything that depends on the task-logs contract, which the spec lacks.
"""

from .cache import CachedClient, LocalStore, RedisStore, Store
from .client import BlaxelClient, CallRecord, CallScope, PageRequest
from .errors import ChainStopped, ErrorKind, UpstreamError
from .logs import SEVERITIES, LogLine, LogPage, LogRequest, Window
from .models import (
    EXECUTION_STATUSES,
    FINAL_TASK_STATUSES,
    TASK_STATUSES,
    Condition,
    Execution,
    ExecutionStats,
    Job,
    Page,
    Revision,
    Task,
)
from .session import Session

__all__ = [
    "EXECUTION_STATUSES",
    "FINAL_TASK_STATUSES",
    "SEVERITIES",
    "TASK_STATUSES",
    "BlaxelClient",
    "CachedClient",
    "CallRecord",
    "CallScope",
    "ChainStopped",
    "Condition",
    "ErrorKind",
    "Execution",
    "ExecutionStats",
    "Job",
    "LogLine",
    "LogPage",
    "LogRequest",
    "LocalStore",
    "Page",
    "PageRequest",
    "RedisStore",
    "Revision",
    "Session",
    "Store",
    "Task",
    "UpstreamError",
    "Window",
]
