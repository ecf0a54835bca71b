"""The floor for instrumenting the Agents SDK the way agentel does: bare OTel SDK spans.

One OTel span per span agentel makes, started where agentel starts it (the SDK's processor
callbacks for workflows, agents, tools and handoffs; a wrapper around the model call), nested
the same way, carrying the same number of attributes passed at start, and ended where agentel
ends it. Nothing else: no conversion, no tokens, no metrics, no content, no error handling.
What agentel costs above this is the price of everything it records beyond bare spans.
"""

from __future__ import annotations

from typing import Any

import wrapt
from agents.tracing import TracingProcessor, add_trace_processor, set_trace_processors
from opentelemetry import context as otel_context
from opentelemetry import trace

# Attribute counts of agentel's spans in the benchmark scenario (workflow 4, agent 6-7,
# tool 6, handoff 8, chat 8), as static dicts so building them costs nothing.
_ATTRIBUTES = {
    kind: {f"gen_ai.attribute.{index}": f"value {index}" for index in range(count)}
    for kind, count in (("trace", 4), ("agent", 7), ("function", 6), ("handoff", 8), ("chat", 8))
}


class BareBridge(TracingProcessor):  # type: ignore[misc]
    """SDK traces and spans -> bare OTel spans with the same attribute counts."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        self.spans: dict[str, Any] = {}

    def on_trace_start(self, sdk_trace: Any) -> None:
        self.spans[sdk_trace.trace_id] = self.tracer.start_span(
            "workflow", attributes=_ATTRIBUTES["trace"]
        )

    def on_trace_end(self, sdk_trace: Any) -> None:
        self.spans.pop(sdk_trace.trace_id).end()

    def on_span_start(self, sdk_span: Any) -> None:
        kind = sdk_span.span_data.type
        parent = self.spans.get(sdk_span.parent_id) or self.spans.get(sdk_span.trace_id)
        if kind not in _ATTRIBUTES or parent is None:
            self.spans[sdk_span.span_id] = parent
            return
        self.spans[sdk_span.span_id] = self.tracer.start_span(
            kind, context=trace.set_span_in_context(parent), attributes=_ATTRIBUTES[kind]
        )

    def on_span_end(self, sdk_span: Any) -> None:
        span = self.spans.pop(sdk_span.span_id, None)
        if span is not None and sdk_span.span_data.type in _ATTRIBUTES:
            span.end()

    def shutdown(self) -> None:
        return None

    def force_flush(self) -> None:
        return None


def install(tracer: trace.Tracer, model_class: type) -> Any:
    """Bridge the SDK's spans and wrap ``model_class.get_response`` in a bare chat span that
    is the current context during the call; returns the function that undoes both."""
    bridge = BareBridge(tracer)
    set_trace_processors([])
    add_trace_processor(bridge)

    async def get_response(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        # A run with tracing disabled gets no span, as with any instrumentation (and as the
        # untraced half of each benchmark pair must): the SDK says so in ``tracing``.
        tracing = kwargs.get("tracing", args[6] if len(args) > 6 else None)
        if tracing is not None and tracing.is_disabled():
            return await wrapped(*args, **kwargs)
        span = tracer.start_span("chat", attributes=_ATTRIBUTES["chat"])
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            return await wrapped(*args, **kwargs)
        finally:
            otel_context.detach(token)
            span.end()

    original = model_class.__dict__["get_response"]
    wrapt.wrap_function_wrapper(model_class, "get_response", get_response)

    def undo() -> None:
        model_class.get_response = original  # type: ignore[attr-defined]
        set_trace_processors([])

    return undo
