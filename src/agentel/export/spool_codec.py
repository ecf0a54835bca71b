"""Spans to and from the bytes the spool keeps: an OTLP ``ExportTraceServiceRequest``.

OTLP's protobuf is the form the spans take on the wire anyway: compact, versioned by the
OpenTelemetry project rather than by us, readable by any OTLP tool, and holding all a span
has (ids, parent, times, kind, status, attributes, events, links, resource, scope). Decoding
gives back SDK ``ReadableSpan`` objects, so a replay goes through the very exporter, dialect
and retries a live batch would, whichever protocol or backend it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

_IS_REMOTE = 0x200  # SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK


def encode(spans: Sequence[ReadableSpan]) -> bytes:
    """The OTLP request an OTLP/HTTP exporter would post for these spans."""
    return encode_spans(spans).SerializeToString()


def decode(payload: bytes) -> list[ReadableSpan]:
    """The spans of an OTLP request made by :func:`encode`."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(payload)
    spans: list[ReadableSpan] = []
    for resource_spans in request.resource_spans:
        resource = Resource(
            _attributes(resource_spans.resource.attributes), resource_spans.schema_url
        )
        for scope_spans in resource_spans.scope_spans:
            scope = InstrumentationScope(
                scope_spans.scope.name,
                scope_spans.scope.version or None,
                scope_spans.schema_url or None,
                _attributes(scope_spans.scope.attributes) or None,
            )
            spans.extend(_span(span, resource, scope) for span in scope_spans.spans)
    return spans


def _span(span: Any, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    trace_id = int.from_bytes(span.trace_id, "big")
    flags = TraceFlags(span.flags & 0xFF)
    parent = None
    if span.parent_span_id:
        parent = SpanContext(
            trace_id, int.from_bytes(span.parent_span_id, "big"), bool(span.flags & _IS_REMOTE)
        )
    return ReadableSpan(
        name=span.name,
        context=SpanContext(
            trace_id,
            int.from_bytes(span.span_id, "big"),
            False,
            flags,
            _trace_state(span.trace_state),
        ),
        parent=parent,
        resource=resource,
        attributes=_attributes(span.attributes),
        events=[
            Event(event.name, _attributes(event.attributes), event.time_unix_nano)
            for event in span.events
        ],
        links=[_link(link) for link in span.links],
        kind=SpanKind(max(span.kind - 1, 0)),  # OTLP counts from UNSPECIFIED = 0
        status=Status(StatusCode(span.status.code), span.status.message or None),
        start_time=span.start_time_unix_nano,
        end_time=span.end_time_unix_nano,
        instrumentation_scope=scope,
    )


def _link(link: Any) -> Link:
    context = SpanContext(
        int.from_bytes(link.trace_id, "big"),
        int.from_bytes(link.span_id, "big"),
        bool(link.flags & _IS_REMOTE),
        TraceFlags(link.flags & 0xFF),
        _trace_state(link.trace_state),
    )
    return Link(context, _attributes(link.attributes))


def _trace_state(header: str) -> TraceState | None:
    return TraceState.from_header([header]) if header else None


def _attributes(pairs: Sequence[KeyValue]) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return {pair.key: _value(pair.value) for pair in value.kvlist_value.values}
    return getattr(value, kind) if kind else None
