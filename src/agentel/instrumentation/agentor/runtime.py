"""What the wrappers share: the instrumentor's telemetry and the run each call belongs to.

Agentor's loop is an async generator, so a run's context cannot simply be set around it: it
is held (by the core's stream wrapper) only while Agentor's own code runs, in :data:`ACTIVE`,
and read by the model and tool wrappers called from that code (tool calls run in tasks that
copy it when Agentor creates them).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

from agentel.instrumentation.core.nodes import Node
from agentel.instrumentation.core.scope import RunScope
from agentel.instrumentation.core.telemetry import Telemetry


class Runtime:
    """``telemetry`` is None whenever we are not instrumented."""

    telemetry: Telemetry | None = None
    keep_agentor_export: bool = False


RUNTIME = Runtime()


@dataclass(eq=False)
class AgentorRun(RunScope):
    """One run: its agent span, the tool calls the model asked for and how the run ended."""

    agent: Node | None = None
    # tool name -> (call id, arguments) of this turn's calls not yet started, in order
    pending: dict[str, list[tuple[str | None, Any]]] = field(default_factory=dict)
    started_calls: set[str] = field(default_factory=set)
    failure: tuple[str, str] | None = None  # (description, error.type) of a run that ended badly
    reported_usage: Any = None
    ended_ns: int | None = None

    def take_call_id(self, tool_name: str, arguments: Any) -> str | None:
        """The id of the call this tool execution answers: the same name and arguments,
        else the first call of that name (Agentor starts them in the model's order)."""
        calls = self.pending.get(tool_name)
        if not calls:
            return None
        index = next((i for i, call in enumerate(calls) if call[1] == arguments), 0)
        call_id = calls.pop(index)[0]
        if call_id:
            self.started_calls.add(call_id)
        return call_id


@dataclass(eq=False, slots=True)
class Active:
    """Our span whose work is running here (None: a run Agentor was told not to trace)."""

    node: Node | None
    run: AgentorRun | None


UNTRACED = Active(None, None)
ACTIVE: contextvars.ContextVar[Active | None] = contextvars.ContextVar(
    "agentel_agentor_active", default=None
)
