"""What the SDK processor and the wrappers share beyond the core's nodes and run scope.

The SDK announces structure (traces, agent segments, tool and guardrail spans) through its
processor callbacks, while only the wrappers run *inside* the work and may attach OTel context.
Both meet in the core's :class:`~agentel.instrumentation.core.telemetry.Telemetry` id map:
every SDK span or trace id maps to the node holding the OTel span we made for it, so a wrapper
can find "its" span from ``agents.tracing.get_current_span()``.
"""

from __future__ import annotations

import contextvars
from typing import Any

from agentel.instrumentation.core.nodes import Node
from agentel.instrumentation.core.telemetry import Telemetry

# The model call a wrapper opened in this context, waiting for the SDK's own model span
# (generation/response) so the processor maps that span onto it instead of making a second one.
MODEL_CALL: contextvars.ContextVar[Any] = contextvars.ContextVar("agentel_model_call", default=None)


def node_for_sdk_span(telemetry: Telemetry, sdk_span: Any) -> Node | None:
    """The node of the SDK's current span (or trace), if it is one we made."""
    if sdk_span is None:
        return None
    try:
        nodes = telemetry.nodes
        return nodes.get(sdk_span.span_id) or nodes.get(sdk_span.trace_id)
    except AttributeError:
        return None
