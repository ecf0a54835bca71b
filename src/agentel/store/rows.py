"""Finished OTel spans -> rows of the ``spans`` table.

This runs for every span the exporter writes, so it reads each attribute once, serialises
the resource once per resource object, and leaves everything else to the database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from agentel import semconv
from agentel.store.pricing import PriceTable
from agentel.store.schema import metadata_items

SPAN_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "is_root", "name", "kind", "status",
    "status_message", "start_ns", "end_ns", "duration_ms", "operation", "workflow", "agent",
    "model", "response_model", "tool", "conversation_id", "error_type", "input_tokens",
    "output_tokens", "cached_tokens", "cost_usd", "service", "scope", "attributes", "events",
    "resource",
)  # fmt: skip

# enum .name is a descriptor call; a dict lookup is several times cheaper per span
_KIND_NAMES = {kind: kind.name for kind in SpanKind}
_STATUS_NAMES = {code: code.name for code in StatusCode}
# OTel attribute values are scalars and sequences of scalars: no cycles to look for.
_dumps = json.JSONEncoder(
    separators=(",", ":"), default=str, ensure_ascii=False, check_circular=False
).encode


def _events_json(span: ReadableSpan) -> str:
    if not span.events:
        return "[]"
    return _dumps(
        [
            {"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in span.events
        ]
    )


class RowBuilder:
    """Turns spans into rows; keeps the serialised form of each resource it has seen."""

    def __init__(self, prices: PriceTable):
        self._prices = prices
        self._resources: dict[int, tuple[Any, str, str | None]] = {}

    def _resource(self, span: ReadableSpan) -> tuple[str, str | None]:
        resource = span.resource
        cached = self._resources.get(id(resource))
        if cached is None or cached[0] is not resource:
            attributes = dict(resource.attributes) if resource is not None else {}
            service = attributes.get("service.name")
            cached = (resource, _dumps(attributes), None if service is None else str(service))
            self._resources[id(resource)] = cached
        return cached[1], cached[2]

    def row(self, span: ReadableSpan) -> tuple[Any, ...]:
        context = span.context
        parent = span.parent
        # A plain copy: the SDK's attribute mapping answers each lookup in Python code, the
        # copy in C, and the JSON below needs a dict anyway.
        attrs = dict(span.attributes or {})
        get = attrs.get
        operation = get(semconv.GEN_AI_OPERATION_NAME)
        request_model = get(semconv.GEN_AI_REQUEST_MODEL)
        response_model = get(semconv.GEN_AI_RESPONSE_MODEL)
        input_tokens = get(semconv.GEN_AI_USAGE_INPUT_TOKENS)
        output_tokens = get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
        cached_tokens = get(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
        cost = get(semconv.AGENTEL_USAGE_COST_USD)
        if cost is None and operation == semconv.OP_CHAT:
            cost = self._prices.cost(
                response_model or request_model,
                input_tokens,
                output_tokens,
                cached_tokens,
                get(semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
            )
        start = span.start_time or 0
        end = span.end_time or start
        status = span.status
        resource_json, service = self._resource(span)
        scope = span.instrumentation_scope
        return (
            format(context.trace_id, "032x"),
            format(context.span_id, "016x"),
            None if parent is None else format(parent.span_id, "016x"),
            1 if parent is None or parent.is_remote else 0,
            span.name,
            _KIND_NAMES[span.kind],
            _STATUS_NAMES[status.status_code],
            status.description,
            start,
            end,
            (end - start) / 1e6,
            operation,
            get(semconv.GEN_AI_WORKFLOW_NAME),
            get(semconv.GEN_AI_AGENT_NAME),
            request_model or response_model,
            response_model,
            get(semconv.GEN_AI_TOOL_NAME),
            get(semconv.GEN_AI_CONVERSATION_ID),
            get(semconv.ERROR_TYPE),
            input_tokens,
            output_tokens,
            cached_tokens,
            cost,
            service,
            None if scope is None else scope.name,
            _dumps(attrs),
            _events_json(span),
            resource_json,
        )

    def rows(self, spans: Sequence[ReadableSpan]) -> Rows:
        """The span rows, and the trace metadata entries of their workflow and root spans
        (where the instrumentation puts them, so other spans cost no extra scan)."""
        rows = [self.row(span) for span in spans]
        metadata = [
            (row[0], key, value)
            for span, row in zip(spans, rows, strict=True)
            if row[11] == semconv.OP_INVOKE_WORKFLOW or row[3]
            for key, value in metadata_items(dict(span.attributes or {}))
        ]
        return Rows(rows, metadata)


class Rows(NamedTuple):
    spans: list[tuple[Any, ...]]
    metadata: list[tuple[str, str, str]]


# A span row as stored: the trace's sequence number, then the row RowBuilder makes.
STORED_COLUMNS = ("trace_seq", *SPAN_COLUMNS)
STORED = {name: index for index, name in enumerate(STORED_COLUMNS)}

# (trace_names.kind, position in a stored row) for the agent, model and tool filters
_NAME_COLUMNS = (("agent", STORED["agent"]), ("model", STORED["model"]), ("tool", STORED["tool"]))


def name_rows(stored: Sequence[tuple[Any, ...]]) -> list[tuple[str, str, int]]:
    """(kind, name, trace_seq) for each distinct agent, model and tool name in each trace."""
    names = {
        (kind, row[column], row[0])
        for row in stored
        for kind, column in _NAME_COLUMNS
        if row[column] is not None
    }
    return sorted(names)
