"""What the Agno wrappers share: the telemetry in use, our innermost node, and the run facts
(conversation id, a failure's real exception) that travel up the tree.

Agno's own objects say nothing about OTel, so our innermost node lives in a context variable
that is set for exactly the windows in which that node's span context is attached (the core's
``call_within`` and stream wrappers hold both), never in the caller's code between chunks.
"""

from __future__ import annotations

import contextvars
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from agentel import semconv as sc
from agentel.instrumentation.core.nodes import AGENT, STEP, WORKFLOW, Node
from agentel.instrumentation.core.scope import record
from agentel.instrumentation.core.telemetry import Telemetry


class Runtime:
    """What the wrappers need; ``telemetry`` is None whenever we are not instrumented."""

    telemetry: Telemetry | None = None


RUNTIME = Runtime()

CURRENT: contextvars.ContextVar[Node | None] = contextvars.ContextVar(
    "agentel_agno_node", default=None
)

# The real exception under each agent, team, step or workflow node whose run failed below it, so
# the run's ERROR status (Agno returns it, never raises it) can name the exception's type.
_failures: dict[Node, BaseException] = {}
_RUNS = frozenset({AGENT, STEP, WORKFLOW})


def start(
    telemetry: Telemetry,
    kind: str,
    name: str,
    attributes: dict[str, Any],
    span_kind: SpanKind = SpanKind.INTERNAL,
) -> Node:
    """Start a node under our innermost one. When someone else's span sits between (a user's
    span in a tool that runs an agent), the OTel parent is that span and our bookkeeping
    (conversation id, token sums, the enclosing agent) still links to our node."""
    parent = CURRENT.get()
    if parent is None or trace.get_current_span() is parent.span:
        return telemetry.start_node(kind, name, "", parent, attributes, span_kind)
    if parent.conversation_id is not None:
        attributes.setdefault(sc.GEN_AI_CONVERSATION_ID, parent.conversation_id)
    node = telemetry.start_node(kind, name, "", None, attributes, span_kind)
    node.parent = parent
    node.conversation_id = attributes.get(sc.GEN_AI_CONVERSATION_ID)
    if node.workflow is None:
        node.workflow = parent.workflow
    if node.agent is None:
        node.agent = parent.agent
    return node


def learn_conversation(node: Node | None, session_id: Any) -> None:
    """Agno names the session inside the run: give it to this node and those above that
    started before it was known (children started later inherit it from ``start``)."""
    if not isinstance(session_id, str) or not session_id:
        return
    while node is not None and node.conversation_id is None:
        node.conversation_id = session_id
        node.span.set_attribute(sc.GEN_AI_CONVERSATION_ID, session_id)
        node = node.parent


def record_failure(node: Node, exc: BaseException) -> None:
    """Record ``exc`` where it happened and remember it on the runs above, which Agno will
    report as failed without raising."""
    record(node, exc)
    above = node.parent
    while above is not None:
        if above.kind in _RUNS and above not in _failures:
            _failures[above] = exc
        above = above.parent


def failure_below(node: Node) -> BaseException | None:
    return _failures.get(node)


def forget(node: Node) -> None:
    _failures.pop(node, None)
