"""The live state shared by the SDK processor and the wrappers.

The SDK announces structure (traces, agent segments, tool and guardrail spans) through its
processor callbacks, while only the wrappers run *inside* the work and may attach OTel context.
Both meet here: every SDK span or trace id maps to a :class:`Node` holding the OTel span we
made for it, so a wrapper can find "its" span from ``agents.tracing.get_current_span()``.
"""

from __future__ import annotations

import contextvars
import logging
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import Meter
from opentelemetry.trace import Span, Status, StatusCode

from agentel import semconv as sc
from agentel.settings import ContentSettings

_log = logging.getLogger("agentel.instrumentation.openai_agents")

WORKFLOW = "workflow"
AGENT = "agent"
CHAT = "chat"
TOOL = "tool"
HANDOFF = "handoff"
GUARDRAIL = "guardrail"
CUSTOM = "custom"

_logged_once: set[str] = set()


def log_once(key: str, message: str, *args: Any) -> None:
    """Log an internal failure at debug level once per kind, so a bad loop cannot flood logs."""
    if key in _logged_once:
        return
    _logged_once.add(key)
    _log.debug(message, *args, exc_info=True)


def error_type(exc: BaseException) -> str:
    """The fully qualified class name the semconv asks for in ``error.type``."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


@dataclass(eq=False, slots=True)
class Node:
    """One OTel span we own, plus what its subtree sums into it."""

    span: Span
    kind: str
    sdk_id: str
    workflow: Node | None
    agent: Node | None
    conversation_id: str | None
    started: float = field(default_factory=time.perf_counter)
    usage: list[int] | None = None
    errored: bool = False
    exception: BaseException | None = None
    name: str | None = None
    provider: str | None = None
    context: otel_context.Context | None = None
    content_started: bool = False
    calls: dict[str, str] | None = None  # tool name -> call id of the agent's last model turn
    tool_type: str | None = None

    def otel_context(self) -> otel_context.Context:
        if self.context is None:
            self.context = trace.set_span_in_context(self.span)
        return self.context

    def add_usage(self, values: tuple[int, int, int, int, int]) -> None:
        if self.usage is None:
            self.usage = [0, 0, 0, 0, 0]
        for index, value in enumerate(values):
            self.usage[index] += value


def usage_attributes(usage: list[int] | tuple[int, ...] | None) -> dict[str, int]:
    """Token counts as semconv attributes; the optional kinds only when there are some."""
    if usage is None:
        return {}
    values = {
        sc.GEN_AI_USAGE_INPUT_TOKENS: usage[0],
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: usage[1],
    }
    if usage[2]:
        values[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage[2]
    if usage[3]:
        values[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = usage[3]
    if usage[4]:
        values[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage[4]
    return values


def record_exception(node: Node, exc: BaseException) -> None:
    """Status ERROR, ``error.type`` and one ``exception`` event with the real stack."""
    if node.exception is exc:
        return
    node.exception = exc
    node.errored = True
    span = node.span
    span.set_attribute(sc.ERROR_TYPE, error_type(exc))
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    span.add_event(
        "exception",
        {
            "exception.type": error_type(exc),
            "exception.message": str(exc),
            "exception.stacktrace": stack,
        },
    )


def mark_error(node: Node, description: str, kind: str | None = None) -> None:
    """Status ERROR without an exception event: the SDK's ``SpanError``s, or a run's failure
    on the spans above the one where it happened. Keeps a known ``error.type`` over ``_OTHER``.
    """
    node.errored = True
    if kind is not None or node.exception is None:
        node.span.set_attribute(sc.ERROR_TYPE, kind or sc.ERROR_TYPE_OTHER)
    node.span.set_status(Status(StatusCode.ERROR, description))


class Telemetry:
    """Tracer, metric instruments, content settings and the SDK-id -> Node map."""

    def __init__(self, tracer: trace.Tracer, meter: Meter, content: ContentSettings) -> None:
        self.tracer = tracer
        self.content = content
        self.nodes: dict[str, Node] = {}
        self.agent_info: dict[str, tuple[str | None, str | None]] = {}
        self.operation_duration = meter.create_histogram(
            sc.METRIC_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(sc.DURATION_BUCKETS),
        )
        self.token_usage = meter.create_histogram(
            sc.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(sc.TOKEN_BUCKETS),
        )
        self.agent_duration = meter.create_histogram(
            sc.METRIC_INVOKE_AGENT_DURATION,
            unit="s",
            description="Duration of one agent's segment of a run.",
            explicit_bucket_boundaries_advisory=list(sc.AGENT_DURATION_BUCKETS),
        )
        self.tool_duration = meter.create_histogram(
            sc.METRIC_EXECUTE_TOOL_DURATION,
            unit="s",
            description="Duration of one tool call.",
            explicit_bucket_boundaries_advisory=list(sc.DURATION_BUCKETS),
        )

    def node_for_sdk_span(self, sdk_span: Any) -> Node | None:
        """The node of the SDK's current span (or trace), if it is one we made."""
        if sdk_span is None:
            return None
        try:
            return self.nodes.get(sdk_span.span_id) or self.nodes.get(sdk_span.trace_id)
        except AttributeError:
            return None

    def start_node(
        self,
        kind: str,
        name: str,
        sdk_id: str,
        parent: Node | None,
        attributes: dict[str, Any],
        span_kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    ) -> Node:
        workflow = parent.workflow if parent is not None else None
        conversation_id = parent.conversation_id if parent is not None else None
        if conversation_id is not None:
            attributes[sc.GEN_AI_CONVERSATION_ID] = conversation_id
        span = self.tracer.start_span(
            name,
            context=parent.otel_context() if parent is not None else None,
            kind=span_kind,
            attributes=attributes,
        )
        agent = parent.agent if parent is not None else None
        node = Node(span, kind, sdk_id, workflow, agent, conversation_id)
        if kind == AGENT:
            node.agent = node
        return node


# The run in progress in this context: agent and workflow spans that end inside it wait for
# the run's outcome, so a run that raises can still mark them ERROR before they are sent.
@dataclass(eq=False)
class RunScope:
    deferred: list[tuple[Node, int]] = field(default_factory=list)
    workflow: Node | None = None
    last_agent: Node | None = None
    open: bool = True
    recorded: set[int] = field(default_factory=set)

    def defer(self, node: Node) -> bool:
        if not self.open:
            return False
        self.deferred.append((node, time.time_ns()))
        return True

    def close(self, exc: BaseException | None, finish: Any) -> None:
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
            if self._recorded_below(exc):
                mark_error(agent, description, error_type(exc))
            else:
                record_exception(agent, exc)
        workflows = {id(n): n for n, _ in self.deferred if n.kind == WORKFLOW}
        if self.workflow is not None:
            workflows[id(self.workflow)] = self.workflow
        for workflow in workflows.values():
            mark_error(workflow, description, error_type(exc))

    def _recorded_below(self, exc: BaseException | None) -> bool:
        while exc is not None:
            if id(exc) in self.recorded:
                return True
            exc = exc.__cause__ or exc.__context__
        return False


RUN_SCOPE: contextvars.ContextVar[RunScope | None] = contextvars.ContextVar(
    "agentel_run_scope", default=None
)
# The model call a wrapper opened in this context, waiting for the SDK's own model span
# (generation/response) so the processor maps that span onto it instead of making a second one.
MODEL_CALL: contextvars.ContextVar[Any] = contextvars.ContextVar("agentel_model_call", default=None)
