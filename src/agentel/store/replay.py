"""Stored traces back into OTel spans, sent to an OTLP/HTTP endpoint (``agentel export``).

Spans keep their ids, parents, times, status, attributes, events and resource, so a
collector receives what it would have received live.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from agentel.store.model import SpanRecord, TraceTree


def _resource(attributes: Mapping[str, Any], cache: dict[str, Resource]) -> Resource:
    key = json.dumps(attributes, sort_keys=True)
    if key not in cache:
        cache[key] = Resource(dict(attributes))
    return cache[key]


def to_readable_span(span: SpanRecord, resources: dict[str, Resource]) -> ReadableSpan:
    context = SpanContext(
        int(span.trace_id, 16), int(span.span_id, 16), False, TraceFlags(TraceFlags.SAMPLED)
    )
    parent = (
        None
        if span.parent_span_id is None
        else SpanContext(int(span.trace_id, 16), int(span.parent_span_id, 16), False)
    )
    status_code = StatusCode[span.status]
    return ReadableSpan(
        name=span.name,
        context=context,
        parent=parent,
        resource=_resource(span.resource, resources),
        attributes=span.attributes,
        events=[Event(e["name"], e.get("attributes") or {}, e.get("time_ns")) for e in span.events],
        kind=SpanKind[span.kind],
        status=Status(
            status_code, span.status_message if status_code is StatusCode.ERROR else None
        ),
        start_time=span.start_ns,
        end_time=span.end_ns,
        instrumentation_scope=InstrumentationScope(span.scope or "agentel"),
    )


class OtlpReplay:
    """Collects spans of whole traces and posts them in batches of ``batch_size``."""

    def __init__(self, endpoint: str, batch_size: int = 512):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        self._exporter = OTLPSpanExporter(endpoint=endpoint)
        self._batch_size = batch_size
        self._pending: list[ReadableSpan] = []
        self._resources: dict[str, Resource] = {}
        self.batches = 0
        self.failed_batches = 0
        self.sent_spans = 0

    def add(self, tree: TraceTree) -> None:
        self._pending.extend(to_readable_span(s, self._resources) for s in tree.spans)
        while len(self._pending) >= self._batch_size:
            self._send(self._pending[: self._batch_size])
            del self._pending[: self._batch_size]

    def finish(self) -> None:
        if self._pending:
            self._send(self._pending)
            self._pending = []
        self._exporter.shutdown()

    def _send(self, spans: list[ReadableSpan]) -> None:
        self.batches += 1
        if self._exporter.export(spans) is SpanExportResult.SUCCESS:
            self.sent_spans += len(spans)
        else:
            self.failed_batches += 1
