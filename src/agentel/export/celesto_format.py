"""Our OTel spans as Celesto ingest items (the OpenAI Agents trace ingest shape).

A Celesto trace is one workflow: the ``invoke_workflow`` span becomes the
``{"object": "trace"}`` item and its children become top-level ``trace.span`` items
(``parent_id: null``). Other spans map by ``gen_ai.operation.name`` to ``agent``,
``generation``, ``function``, ``handoff``, ``guardrail`` or ``custom`` span data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from agentel import semconv as sc

MAX_FIELD_BYTES = 100_000
TRUNCATION_SUFFIX = "... [truncated]"

_MODEL_CONFIG = {
    sc.GEN_AI_REQUEST_TEMPERATURE: "temperature",
    sc.GEN_AI_REQUEST_TOP_P: "top_p",
    sc.GEN_AI_REQUEST_MAX_TOKENS: "max_tokens",
    sc.GEN_AI_REQUEST_FREQUENCY_PENALTY: "frequency_penalty",
    sc.GEN_AI_REQUEST_PRESENCE_PENALTY: "presence_penalty",
    sc.GEN_AI_REQUEST_STOP_SEQUENCES: "stop",
    sc.GEN_AI_REQUEST_SEED: "seed",
}


def is_workflow(span: ReadableSpan) -> bool:
    return (span.attributes or {}).get(sc.GEN_AI_OPERATION_NAME) == sc.OP_INVOKE_WORKFLOW


def is_root(span: ReadableSpan) -> bool:
    return span.parent is None or span.parent.is_remote


def celesto_trace_id(span: ReadableSpan | None, otel_trace_id: int) -> str:
    """``trace_`` + 32 hex digits: the OTel trace id, or, for a workflow that is not the
    root of its OTel trace (an outer HTTP span), half of it and the workflow's span id, so
    two workflows in one request stay two Celesto traces."""
    if span is None or is_root(span) or span.context is None:
        return f"trace_{otel_trace_id:032x}"
    return f"trace_{otel_trace_id:032x}"[:22] + f"{span.context.span_id:016x}"


def celesto_span_id(span_id: int) -> str:
    return f"span_{span_id:016x}"


def iso_time(nanos: int | None) -> str | None:
    if nanos is None:
        return None
    return datetime.fromtimestamp(nanos / 1e9, tz=timezone.utc).isoformat()


def cap(value: Any) -> Any:
    """Keep one field under 100 KB of JSON; longer values become a truncated string."""
    encoded = json.dumps(value, ensure_ascii=False, default=str)
    if len(encoded.encode()) <= MAX_FIELD_BYTES:
        return value
    text = value if isinstance(value, str) else encoded
    budget = MAX_FIELD_BYTES - len(TRUNCATION_SUFFIX) - 2
    while True:
        cut = text.encode()[:budget].decode("utf-8", "ignore") + TRUNCATION_SUFFIX
        if len(json.dumps(cut, ensure_ascii=False).encode()) <= MAX_FIELD_BYTES:
            return cut
        budget = budget * 9 // 10


def _json(value: Any) -> Any:
    """Content attributes hold JSON strings; send them as JSON, or as text if they are not."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _text(value: Any) -> Any:
    """A tool result as text: a JSON-encoded string is unwrapped, other JSON kept as text."""
    parsed = _json(value)
    return parsed if isinstance(parsed, str) else value


def _plain(value: Any) -> Any:
    """OTel array attributes are tuples; JSON wants lists."""
    return list(value) if isinstance(value, tuple) else value


def _usage(attrs: Mapping[str, Any]) -> dict[str, int] | None:
    tokens_in = attrs.get(sc.GEN_AI_USAGE_INPUT_TOKENS)
    tokens_out = attrs.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS)
    if tokens_in is None and tokens_out is None:
        return None
    tokens_in, tokens_out = int(tokens_in or 0), int(tokens_out or 0)
    return {
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "total_tokens": tokens_in + tokens_out,
    }


def _tool_names(attrs: Mapping[str, Any]) -> list[str] | None:
    definitions = _json(attrs.get(sc.GEN_AI_TOOL_DEFINITIONS))
    if not isinstance(definitions, list):
        return None
    return [d["name"] for d in definitions if isinstance(d, dict) and "name" in d]


def _present(data: dict[str, Any]) -> dict[str, Any]:
    return {key: cap(value) for key, value in data.items() if value is not None}


def span_data(span: ReadableSpan) -> dict[str, Any]:
    """The ``span_data`` object for one span."""
    attrs = span.attributes or {}
    operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
    if operation == sc.OP_INVOKE_AGENT:
        return _present(
            {
                "type": "agent",
                "name": attrs.get(sc.GEN_AI_AGENT_NAME) or span.name,
                "tools": _tool_names(attrs),
                "output_type": attrs.get(sc.GEN_AI_OUTPUT_TYPE),
                "usage": _usage(attrs),
            }
        )
    if operation == sc.OP_CHAT:
        config = {name: _plain(attrs[key]) for key, name in _MODEL_CONFIG.items() if key in attrs}
        return _present(
            {
                "type": "generation",
                "model": attrs.get(sc.GEN_AI_RESPONSE_MODEL) or attrs.get(sc.GEN_AI_REQUEST_MODEL),
                "input": _json(attrs.get(sc.GEN_AI_INPUT_MESSAGES)),
                "output": _json(attrs.get(sc.GEN_AI_OUTPUT_MESSAGES)),
                "model_config": config or None,
                "usage": _usage(attrs),
            }
        )
    if operation == sc.OP_EXECUTE_TOOL and attrs.get(sc.GEN_AI_TOOL_TYPE) == sc.TOOL_TYPE_HANDOFF:
        return _present(
            {
                "type": "handoff",
                "from_agent": attrs.get(sc.AGENTEL_HANDOFF_FROM_AGENT),
                "to_agent": attrs.get(sc.AGENTEL_HANDOFF_TO_AGENT),
            }
        )
    if operation == sc.OP_EXECUTE_TOOL:
        server = attrs.get(sc.AGENTEL_MCP_SERVER)
        return _present(
            {
                "type": "function",
                "name": attrs.get(sc.GEN_AI_TOOL_NAME) or span.name,
                "input": attrs.get(sc.GEN_AI_TOOL_CALL_ARGUMENTS),
                "output": _text(attrs.get(sc.GEN_AI_TOOL_CALL_RESULT)),
                "mcp_data": {"server": server} if server else None,
            }
        )
    if operation == sc.OP_APPLY_GUARDRAIL:
        triggered = str(attrs.get(sc.GEN_AI_GUARDRAIL_RESULT_VALUE, "false")).lower() == "true"
        return _present(
            {
                "type": "guardrail",
                "name": attrs.get(sc.GEN_AI_GUARDRAIL_COMPONENT_NAME) or span.name,
                "triggered": triggered,
            }
        )
    prefix = sc.AGENTEL_CUSTOM_PREFIX
    data = {k[len(prefix) :]: _plain(v) for k, v in attrs.items() if k.startswith(prefix)}
    if not data:  # a span of another instrumentation: keep what it says
        data = {key: _plain(value) for key, value in attrs.items()}
    return _present({"type": "custom", "name": span.name, "data": data})


def _error(span: ReadableSpan) -> dict[str, Any] | None:
    if span.status.status_code is not StatusCode.ERROR:
        return None
    error_type = (span.attributes or {}).get(sc.ERROR_TYPE)
    message = span.status.description or error_type or "error"
    return {"message": cap(message), "data": {"error_type": error_type} if error_type else None}


def trace_item(closing: ReadableSpan | None, members: Sequence[ReadableSpan]) -> dict[str, Any]:
    """The ``trace`` item: from the workflow span when there is one."""
    head = closing or min(members, key=lambda span: span.start_time or 0)
    attrs = head.attributes or {}
    otel_trace_id = head.context.trace_id if head.context else 0
    metadata = {
        key[len(sc.AGENTEL_METADATA_PREFIX) :]: cap(value)
        for key, value in attrs.items()
        if key.startswith(sc.AGENTEL_METADATA_PREFIX)
    }
    workflow = closing if closing is not None and is_workflow(closing) else None
    return {
        "object": "trace",
        "id": celesto_trace_id(workflow, otel_trace_id),
        # a run with no workflow (an Agentor run) is named by its agent, as Agentor names it
        "workflow_name": (
            attrs.get(sc.GEN_AI_WORKFLOW_NAME) or attrs.get(sc.GEN_AI_AGENT_NAME) or head.name
        ),
        "group_id": attrs.get(sc.GEN_AI_CONVERSATION_ID),
        "metadata": metadata or None,
    }


def to_items(closing: ReadableSpan | None, members: Sequence[ReadableSpan]) -> list[dict]:
    """One Celesto trace: its trace item, then one ``trace.span`` item per non-workflow span.

    ``closing`` is the workflow (or root) span that ended the group, or None for spans
    sent without one (at shutdown). Parents outside the group, and the workflow span
    itself, become ``parent_id: null``.
    """
    trace = trace_item(closing, members)
    workflow_id = (
        closing.context.span_id if closing and closing.context and is_workflow(closing) else None
    )
    ids = {span.context.span_id for span in members if span.context is not None}
    items: list[dict[str, Any]] = [trace]
    for span in sorted(members, key=lambda span: span.start_time or 0):
        if span.context is None or span.context.span_id == workflow_id:
            continue
        parent = span.parent.span_id if span.parent is not None else None
        item: dict[str, Any] = {
            "object": "trace.span",
            "span_id": celesto_span_id(span.context.span_id),
            "trace_id": trace["id"],
            "parent_id": (
                celesto_span_id(parent) if parent in ids and parent != workflow_id else None
            ),
            "started_at": iso_time(span.start_time),
            "ended_at": iso_time(span.end_time),
            "span_data": span_data(span),
        }
        if (error := _error(span)) is not None:
            item["error"] = error
        items.append(item)
    return items
