"""The run in progress in this context.

Spans above the place where a run fails (its agents, its workflow) may end before the
framework tells the caller the run failed. Those that end inside a run wait here for the
run's outcome, so a failed run can still mark them ERROR before they are sent; each keeps its
own end time.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .guest import error_type, log_once
from .nodes import WORKFLOW, Node, mark_error, record_exception


@dataclass(eq=False)
class RunScope:
    deferred: list[tuple[Node, int]] = field(default_factory=list)
    workflow: Node | None = None
    last_agent: Node | None = None
    open: bool = True
    recorded: set[int] = field(default_factory=set)
    # What the run learned about its agents before they ran, by agent name (a description,
    # a provider, ...): kept per run, since concurrent runs may reuse names for other agents.
    agents: dict[str, Any] = field(default_factory=dict)

    def defer(self, node: Node) -> bool:
        if not self.open:
            return False
        self.deferred.append((node, time.time_ns()))
        return True

    def close(self, exc: BaseException | None, finish: Callable[[Node, int], None]) -> None:
        """Apply the run's outcome to the waiting spans, then end them at their own times."""
        self.open = False
        try:
            if exc is not None:
                self._fail(exc)
        except Exception:
            log_once("scope-fail", "agentel: could not record a failed run")
        deferred, self.deferred = self.deferred, []
        for node, end_ns in deferred:
            try:
                finish(node, end_ns)
            except Exception:
                log_once("scope-finish", "agentel: could not end a span of a run")

    def _fail(self, exc: BaseException) -> None:
        description = f"{type(exc).__name__}: {exc}"
        agent = self.last_agent
        if agent is not None:
            # The exception event goes where the failure happened: on the agent only when no
            # model call or tool below it has recorded this exception already.
            if self.recorded_below(exc):
                mark_error(agent, description, error_type(exc))
            else:
                record_exception(agent, exc)
        workflows = {id(n): n for n, _ in self.deferred if n.kind == WORKFLOW}
        if self.workflow is not None:
            workflows[id(self.workflow)] = self.workflow
        for workflow in workflows.values():
            mark_error(workflow, description, error_type(exc))

    def recorded_below(self, exc: BaseException | None) -> bool:
        """Whether this exception, or one it was raised from, is already on a span."""
        while exc is not None:
            if id(exc) in self.recorded:
                return True
            exc = exc.__cause__ or exc.__context__
        return False


RUN_SCOPE: contextvars.ContextVar[RunScope | None] = contextvars.ContextVar(
    "agentel_run_scope", default=None
)


def record(node: Node, exc: BaseException, scope: RunScope | None = None) -> None:
    """Record an exception where it happened and tell the run it has been recorded, so the
    spans above get ERROR without a second copy of the stack. ``scope`` is the run when the
    framework's wrappers keep it themselves, else the one in :data:`RUN_SCOPE`."""
    try:
        record_exception(node, exc)
        if scope is None:
            scope = RUN_SCOPE.get()
        if scope is not None:
            scope.recorded.add(id(exc))
    except Exception:
        log_once("record", "agentel: could not record an exception")
