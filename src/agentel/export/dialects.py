"""What export-time dialects share: span copies with extra attributes, JSON values shown as
JSON, and the run's input and output carried up to the workflow span.

Instrumentation speaks one convention (GenAI). Some backends render their own names better
(Phoenix and MLflow: OpenInference; Langfuse: its trace keys), so the OTLP exporter can be
wrapped to add those names to copies of the spans; other exporters see the spans untouched.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentel import semconv as sc

_REMEMBERED_WORKFLOWS = 1024


def io_value(raw: str) -> tuple[str, str]:
    """(value, mime type) for showing ``raw`` as an input or output.

    A tool that returns JSON text is recorded as a JSON string (``"{\\"id\\": 1}"``): the
    backend would show the quotes and backslashes. Such a string is unwrapped to the JSON
    it holds, and any other JSON string to its plain text.
    """
    try:
        decoded = json.loads(raw)
    except ValueError:
        return raw, sc.OI_MIME_TEXT
    if isinstance(decoded, (dict, list)):
        return raw, sc.OI_MIME_JSON
    if not isinstance(decoded, str):
        return raw, sc.OI_MIME_TEXT
    inner = decoded.strip()
    if inner[:1] in ("[", "{"):
        try:
            json.loads(inner)
        except ValueError:
            return decoded, sc.OI_MIME_TEXT
        return inner, sc.OI_MIME_JSON
    return decoded, sc.OI_MIME_TEXT


def metadata(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The trace metadata the workflow span carries as ``agentel.metadata.<key>``."""
    prefix = sc.AGENTEL_METADATA_PREFIX
    return {key[len(prefix) :]: value for key, value in attrs.items() if key.startswith(prefix)}


def user_id(attrs: Mapping[str, Any]) -> Any:
    """The end user's id: ``user.id`` if set, else a ``user_id``-like metadata entry."""
    if (value := attrs.get(sc.USER_ID)) is not None:
        return value
    for key in sc.USER_ID_METADATA_KEYS:
        if (value := attrs.get(sc.AGENTEL_METADATA_PREFIX + key)) is not None:
            return value
    return None


class WorkflowIO:
    """The first agent input and last agent output seen under each workflow span.

    Workflow spans carry no messages of their own; their children end (and are exported)
    before them, so remembering the agents' messages lets the workflow show the run's
    input and final output. Bounded, so a workflow that never ends costs nothing lasting.
    """

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[int, int], dict[str, tuple[int, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, span: ReadableSpan, attrs: Mapping[str, Any]) -> None:
        if span.parent is None or span.context is None:
            return
        key = (span.context.trace_id, span.parent.span_id)
        with self._lock:
            entry = self._seen.setdefault(key, {})
            if isinstance(value := attrs.get(sc.GEN_AI_INPUT_MESSAGES), str):
                start = span.start_time or 0
                if "input" not in entry or start < entry["input"][0]:
                    entry["input"] = (start, value)
            if isinstance(value := attrs.get(sc.GEN_AI_OUTPUT_MESSAGES), str):
                end = span.end_time or 0
                if "output" not in entry or end >= entry["output"][0]:
                    entry["output"] = (end, value)
            while len(self._seen) > _REMEMBERED_WORKFLOWS:
                self._seen.popitem(last=False)

    def recall(self, span: ReadableSpan) -> dict[str, str]:
        """``{"input": ..., "output": ...}`` (either may be missing) for a workflow span."""
        if span.context is None:
            return {}
        with self._lock:
            entry = self._seen.pop((span.context.trace_id, span.context.span_id), {})
        return {key: value for key, (_, value) in entry.items()}


def with_attributes(span: ReadableSpan, extra: Mapping[str, Any]) -> ReadableSpan:
    """A copy of ``span`` with ``extra`` added to its attributes."""
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes={**(span.attributes or {}), **extra},
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class DialectExporter(SpanExporter):
    """Adds a dialect's attributes to copies of the spans, then exports the copies."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.workflow_io = WorkflowIO()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([self._translate(span) for span in spans])

    def _translate(self, span: ReadableSpan) -> ReadableSpan:
        attrs = span.attributes or {}
        operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
        if operation == sc.OP_INVOKE_AGENT:
            self.workflow_io.remember(span, attrs)
        run_io = self.workflow_io.recall(span) if operation == sc.OP_INVOKE_WORKFLOW else {}
        extra = self.attributes(attrs, run_io, root=span.parent is None)
        return with_attributes(span, extra) if extra else span

    def attributes(
        self, attrs: Mapping[str, Any], run_io: Mapping[str, str], *, root: bool
    ) -> dict[str, Any]:
        """The dialect's attributes for one span; ``run_io`` is the run's input and output
        for a workflow span."""
        raise NotImplementedError

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.inner.shutdown()


def with_dialect(exporter: SpanExporter, dialect: str) -> SpanExporter:
    """``exporter`` as is for the GenAI dialect, wrapped for the others."""
    if dialect == "openinference":
        from agentel.export.openinference import OpenInferenceExporter

        return OpenInferenceExporter(exporter)
    if dialect == "langfuse":
        from agentel.export.langfuse import LangfuseExporter

        return LangfuseExporter(exporter)
    return exporter
