"""Finished OTel spans -> rows of the ``spans`` table.

This runs for every span the exporter writes, so it reads each attribute once, serialises
the resource once per resource object (spans refer to it by key), and leaves everything else
to the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from opentelemetry.sdk.trace import ReadableSpan

from agentel import semconv
from agentel.content import compact_encoder
from agentel.store.pricing import PriceTable
from agentel.store.schema import metadata_items, resource_id

SPAN_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "is_root", "name", "kind", "status",
    "status_message", "start_ns", "end_ns", "duration_ms", "operation", "workflow", "agent",
    "model", "response_model", "tool", "conversation_id", "error_type", "input_tokens",
    "output_tokens", "cached_tokens", "cost_usd", "service", "scope", "attributes", "events",
    "resource_id",
)  # fmt: skip


def span_trace_id(span: ReadableSpan) -> str:
    """The span's trace id as stored: 32 hex digits."""
    return span.context.trace_id.to_bytes(16, "big").hex()


_dumps = compact_encoder()

# attribute names as module globals: one lookup each instead of two per span
_OPERATION = semconv.GEN_AI_OPERATION_NAME
_REQUEST_MODEL = semconv.GEN_AI_REQUEST_MODEL
_RESPONSE_MODEL = semconv.GEN_AI_RESPONSE_MODEL
_INPUT_TOKENS = semconv.GEN_AI_USAGE_INPUT_TOKENS
_OUTPUT_TOKENS = semconv.GEN_AI_USAGE_OUTPUT_TOKENS
_CACHED_TOKENS = semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
_CACHE_CREATION_TOKENS = semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
_COST = semconv.AGENTEL_USAGE_COST_USD
_OP_CHAT = semconv.OP_CHAT
_WORKFLOW = semconv.GEN_AI_WORKFLOW_NAME
_AGENT = semconv.GEN_AI_AGENT_NAME
_TOOL = semconv.GEN_AI_TOOL_NAME
_CONVERSATION = semconv.GEN_AI_CONVERSATION_ID
_ERROR_TYPE = semconv.ERROR_TYPE


def attribute_dict(span: ReadableSpan) -> dict[str, Any]:
    """The span's attributes as a plain dict, read-only.

    ``ReadableSpan.attributes`` wraps the SDK's ``BoundedAttributes`` in a mapping proxy, and
    copying that answers every key through two layers of Python code (3 us for ten
    attributes here). A finished span's attributes never change, so the dict inside is read
    as it is (0.1 us), falling back to the public copy for any other container."""
    raw = getattr(span, "_attributes", None)
    if type(raw) is dict:
        return raw
    inner = getattr(raw, "_dict", None)
    if type(inner) is dict:
        return inner
    return dict(span.attributes or {})


def _events_json(span: ReadableSpan) -> str | None:
    """The events as JSON, or NULL for the nine spans in ten that have none."""
    events = span.events
    if not events:
        return None
    return _dumps(
        [
            {"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in events
        ]
    )


class RowBuilder:
    """Turns spans into rows; keeps the key and serialised form of each resource it has seen.

    Each span row refers to its resource by :func:`resource_id`; the resource itself (the same
    for every span a process makes) is stored once, in ``resources``.
    """

    def __init__(self, prices: PriceTable):
        self._prices = prices
        self._resources: dict[int, tuple[Any, int, str, str | None]] = {}
        self._resource_json: dict[int, str] = {}

    def _resource(self, span: ReadableSpan) -> tuple[Any, int, str, str | None]:
        """(resource, resource_id, JSON, service name), computed once per resource object."""
        resource = span.resource
        cached = self._resources.get(id(resource))
        if cached is None or cached[0] is not resource:
            attributes = dict(resource.attributes) if resource is not None else {}
            service = attributes.get("service.name")
            text = _dumps(attributes)
            key = resource_id(text)
            cached = (resource, key, text, None if service is None else str(service))
            self._resources[id(resource)] = cached
            self._resource_json[key] = text
        return cached

    def row(self, span: ReadableSpan) -> tuple[Any, ...]:
        context = span.context
        parent = span.parent
        attrs = attribute_dict(span)
        get = attrs.get
        operation = get(_OPERATION)
        request_model = get(_REQUEST_MODEL)
        response_model = get(_RESPONSE_MODEL)
        input_tokens = get(_INPUT_TOKENS)
        output_tokens = get(_OUTPUT_TOKENS)
        cached_tokens = get(_CACHED_TOKENS)
        cost = get(_COST)
        if cost is None and operation == _OP_CHAT:
            cost = self._prices.cost(
                response_model or request_model,
                input_tokens,
                output_tokens,
                cached_tokens,
                get(_CACHE_CREATION_TOKENS),
            )
        start = span.start_time or 0
        end = span.end_time or start
        status = span.status
        resource = self._resources.get(id(span.resource))
        if resource is None or resource[0] is not span.resource:
            resource = self._resource(span)
        scope = span.instrumentation_scope
        return (
            context.trace_id.to_bytes(16, "big").hex(),  # hex of the bytes: 2x format()'s speed
            context.span_id.to_bytes(8, "big").hex(),
            None if parent is None else parent.span_id.to_bytes(8, "big").hex(),
            1 if parent is None or parent.is_remote else 0,
            span.name,
            # enum ``_name_``: a plain attribute; ``.name`` is a descriptor and hashing an
            # enum member for a dict lookup runs Python code, 5x the time
            span.kind._name_,
            status.status_code._name_,
            status.description,
            start,
            end,
            (end - start) / 1e6,
            operation,
            get(_WORKFLOW),
            get(_AGENT),
            request_model or response_model,
            response_model,
            get(_TOOL),
            get(_CONVERSATION),
            get(_ERROR_TYPE),
            input_tokens,
            output_tokens,
            cached_tokens,
            cost,
            resource[3],
            None if scope is None else scope.name,
            _dumps(attrs),
            _events_json(span),
            resource[1],
        )

    def rows(self, spans: Sequence[ReadableSpan]) -> Rows:
        """The span rows, the trace metadata entries and the resources of a batch."""
        rows = [self.row(span) for span in spans]
        return Rows(rows, *self.extras(spans, rows))

    def extras(
        self, spans: Sequence[ReadableSpan], rows: Sequence[tuple[Any, ...]]
    ) -> tuple[list[tuple[str, str, str]], dict[int, str]]:
        """For the spans and their rows: the trace metadata entries of the workflow and root
        spans (where the instrumentation puts them, so other spans cost no extra scan), and
        the resources the rows refer to."""
        metadata = [
            (row[0], key, value)
            for span, row in zip(spans, rows, strict=True)
            if row[11] == semconv.OP_INVOKE_WORKFLOW or row[3]
            for key, value in metadata_items(attribute_dict(span))
        ]
        resources = {key: self._resource_json[key] for key in {row[-1] for row in rows}}
        return metadata, resources


class Rows(NamedTuple):
    spans: list[tuple[Any, ...]]
    metadata: list[tuple[str, str, str]]
    resources: dict[int, str]  # resource_id -> resource JSON


# A span row as stored: the trace's sequence number, then the row RowBuilder makes without
# the trace id (``traces`` has it, once per trace).
STORED_COLUMNS = ("trace_seq", *SPAN_COLUMNS[1:])
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
