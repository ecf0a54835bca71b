"""The tracer, the four GenAI metric instruments and the content settings of one instrumentor,
and the two things every span of every framework goes through: ``start_node`` and ``finish``.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import Meter

from agentel import semconv as sc
from agentel.settings import ContentSettings
from agentel.version import __version__

from .guest import log_once
from .nodes import AGENT, HANDOFF, TOOL, WORKFLOW, Node, node_error_type, usage_attributes

SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"
# The four GenAI histograms: (name, unit, description, bucket boundaries from the semconv).
_HISTOGRAMS = (
    (sc.METRIC_OPERATION_DURATION, "s", "GenAI operation duration.", sc.DURATION_BUCKETS),
    (
        sc.METRIC_TOKEN_USAGE,
        "{token}",
        "Number of input and output tokens used.",
        sc.TOKEN_BUCKETS,
    ),
    (
        sc.METRIC_INVOKE_AGENT_DURATION,
        "s",
        "Duration of one agent's run or segment of a run.",
        sc.AGENT_DURATION_BUCKETS,
    ),
    (sc.METRIC_EXECUTE_TOOL_DURATION, "s", "Duration of one tool call.", sc.DURATION_BUCKETS),
)


class Telemetry:
    """Tracer, metric instruments, content settings and the framework-id -> Node map."""

    def __init__(self, tracer: trace.Tracer, meter: Meter, content: ContentSettings) -> None:
        self.tracer = tracer
        self.content = content
        self.nodes: dict[str, Node] = {}
        histograms = [
            meter.create_histogram(
                name, unit=unit, description=text, explicit_bucket_boundaries_advisory=list(edges)
            )
            for name, unit, text, edges in _HISTOGRAMS
        ]
        self.operation_duration, self.token_usage, self.agent_duration, self.tool_duration = (
            histograms
        )

    @classmethod
    def create(cls, instrumentation_name: str, **kwargs: Any) -> Telemetry:
        """From an instrumentor's ``instrument()`` keyword arguments: ``tracer_provider``,
        ``meter_provider``, ``capture_content``, ``content_max_length``, ``capture_blobs``."""
        tracer = trace.get_tracer(
            instrumentation_name, __version__, kwargs.get("tracer_provider"), schema_url=SCHEMA_URL
        )
        meter = metrics.get_meter(
            instrumentation_name, __version__, kwargs.get("meter_provider"), schema_url=SCHEMA_URL
        )
        content = ContentSettings.from_env(
            capture=kwargs.get("capture_content"),
            max_length=kwargs.get("content_max_length"),
            capture_blobs=kwargs.get("capture_blobs"),
        )
        return cls(tracer, meter, content)

    def start_node(
        self,
        kind: str,
        name: str,
        sdk_id: str,
        parent: Node | None,
        attributes: dict[str, Any],
        span_kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    ) -> Node:
        """Start a span under ``parent`` (or as a root), carrying the run's conversation id.

        ``attributes`` is passed to the span at start (cheaper than setting them one by one);
        a workflow or agent node becomes the workflow or agent of everything started below it.
        """
        if parent is None:
            span = self.tracer.start_span(name, kind=span_kind, attributes=attributes)
            node = Node(span, kind, sdk_id, None, None, attributes.get(sc.GEN_AI_CONVERSATION_ID))
        else:
            conversation_id = parent.conversation_id
            if conversation_id is not None:
                attributes[sc.GEN_AI_CONVERSATION_ID] = conversation_id
            span = self.tracer.start_span(
                name, context=parent.otel_context(), kind=span_kind, attributes=attributes
            )
            node = Node(span, kind, sdk_id, parent.workflow, parent.agent, conversation_id, parent)
        if kind == AGENT:
            node.agent = node
        elif kind == WORKFLOW:
            node.workflow = node
        return node

    def finish(self, node: Node, end_ns: int | None = None) -> None:
        """Summed tokens on agents and workflows, the duration metrics, then the span's end.

        The span always ends, even if our bookkeeping before it failed.
        """
        try:
            kind = node.kind
            attributes = node.later
            if node.usage is not None and kind in (AGENT, WORKFLOW):
                usage = usage_attributes(node.usage)
                attributes = usage if attributes is None else {**attributes, **usage}
            if attributes:
                node.span.set_attributes(attributes)
            if kind == AGENT:
                self._record_agent_duration(node)
            elif kind in (TOOL, HANDOFF):
                self._record_tool_duration(node)
        except Exception:
            log_once("finish", "agentel: could not complete a span's attributes")
        node.span.end(end_time=end_ns)

    def _record_agent_duration(self, node: Node) -> None:
        attributes = {sc.GEN_AI_AGENT_NAME: node.name or ""}
        if node.errored:
            attributes[sc.ERROR_TYPE] = node_error_type(node)
        self.agent_duration.record(time.perf_counter() - node.started, attributes)

    def _record_tool_duration(self, node: Node) -> None:
        if node.kind == HANDOFF:
            tool_type = sc.TOOL_TYPE_HANDOFF
        else:
            tool_type = node.tool_type or sc.TOOL_TYPE_FUNCTION
        attributes = {sc.GEN_AI_TOOL_NAME: node.name or "", sc.GEN_AI_TOOL_TYPE: tool_type}
        if node.agent is not None and node.agent.name:
            attributes[sc.GEN_AI_AGENT_NAME] = node.agent.name
        if node.errored:
            attributes[sc.ERROR_TYPE] = node_error_type(node)
        self.tool_duration.record(time.perf_counter() - node.started, attributes)
