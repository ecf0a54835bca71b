"""The OpenInference dialect: the GenAI attributes again under the names Phoenix reads.

Instrumentation speaks one convention (GenAI). At export, and only when asked, this wrapper
adds ``openinference.span.kind``, ``input.value``/``output.value``, ``llm.*`` and
``session.id`` with the same values, so Phoenix shows kinds for workflow and agent spans and
fills their input and output panes. The spans given to other exporters are not touched.
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

_KINDS = {
    sc.OP_INVOKE_WORKFLOW: sc.OI_KIND_CHAIN,
    sc.OP_INVOKE_AGENT: sc.OI_KIND_AGENT,
    sc.OP_CHAT: sc.OI_KIND_LLM,
    sc.OP_EXECUTE_TOOL: sc.OI_KIND_TOOL,
    sc.OP_APPLY_GUARDRAIL: sc.OI_KIND_GUARDRAIL,
}
_IO_BY_OPERATION = {
    sc.OP_INVOKE_WORKFLOW: (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES),
    sc.OP_INVOKE_AGENT: (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES),
    sc.OP_CHAT: (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES),
    sc.OP_EXECUTE_TOOL: (sc.GEN_AI_TOOL_CALL_ARGUMENTS, sc.GEN_AI_TOOL_CALL_RESULT),
}
_LLM_TOKENS = {
    sc.GEN_AI_USAGE_INPUT_TOKENS: sc.OI_LLM_TOKEN_COUNT_PROMPT,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: sc.OI_LLM_TOKEN_COUNT_COMPLETION,
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: sc.OI_LLM_TOKEN_COUNT_PROMPT_CACHE_READ,
    sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: sc.OI_LLM_TOKEN_COUNT_COMPLETION_REASONING,
}
_REMEMBERED_WORKFLOWS = 1024


def _is_json(value: str) -> bool:
    return value[:1] in ("[", "{")


def openinference_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenInference attributes for one span's GenAI attributes (empty if not ours)."""
    operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
    if operation not in _KINDS:
        return {}
    extra: dict[str, Any] = {sc.OI_SPAN_KIND: _KINDS[operation]}
    if (conversation := attrs.get(sc.GEN_AI_CONVERSATION_ID)) is not None:
        extra[sc.OI_SESSION_ID] = conversation
    input_key, output_key = _IO_BY_OPERATION.get(operation, (None, None))
    for source, value_key, mime_key in (
        (input_key, sc.OI_INPUT_VALUE, sc.OI_INPUT_MIME_TYPE),
        (output_key, sc.OI_OUTPUT_VALUE, sc.OI_OUTPUT_MIME_TYPE),
    ):
        if source and isinstance(value := attrs.get(source), str):
            extra[value_key] = value
            if _is_json(value):
                extra[mime_key] = sc.OI_MIME_JSON
    if operation == sc.OP_INVOKE_AGENT and (agent := attrs.get(sc.GEN_AI_AGENT_NAME)):
        extra[sc.OI_AGENT_NAME] = agent
    if operation == sc.OP_EXECUTE_TOOL and (tool := attrs.get(sc.GEN_AI_TOOL_NAME)):
        extra[sc.OI_TOOL_NAME] = tool
    if operation == sc.OP_CHAT:
        extra.update(_llm_attributes(attrs))
    if operation == sc.OP_INVOKE_WORKFLOW:
        metadata = {
            key[len(sc.AGENTEL_METADATA_PREFIX) :]: value
            for key, value in attrs.items()
            if key.startswith(sc.AGENTEL_METADATA_PREFIX)
        }
        if metadata:
            extra[sc.OI_METADATA] = json.dumps(metadata, default=str)
    return extra


def _llm_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    model = attrs.get(sc.GEN_AI_RESPONSE_MODEL) or attrs.get(sc.GEN_AI_REQUEST_MODEL)
    if model:
        extra[sc.OI_LLM_MODEL_NAME] = model
    if provider := attrs.get(sc.GEN_AI_PROVIDER_NAME):
        extra[sc.OI_LLM_PROVIDER] = provider
    for genai_key, oi_key in _LLM_TOKENS.items():
        if (count := attrs.get(genai_key)) is not None:
            extra[oi_key] = count
    prompt = attrs.get(sc.GEN_AI_USAGE_INPUT_TOKENS)
    completion = attrs.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS)
    if prompt is not None or completion is not None:
        extra[sc.OI_LLM_TOKEN_COUNT_TOTAL] = (prompt or 0) + (completion or 0)
    return extra


class _WorkflowIO:
    """The first agent input and last agent output seen under each workflow span.

    Workflow spans carry no messages of their own; their children end (and are exported)
    before them, so remembering the agents' messages lets the workflow show the run's
    input and final output. Bounded, so a workflow that never ends costs nothing lasting.
    """

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[int, int], dict[str, tuple[int, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, span: ReadableSpan, extra: Mapping[str, Any]) -> None:
        if span.parent is None or span.context is None:
            return
        key = (span.context.trace_id, span.parent.span_id)
        with self._lock:
            entry = self._seen.setdefault(key, {})
            if (value := extra.get(sc.OI_INPUT_VALUE)) is not None:
                start = span.start_time or 0
                if sc.OI_INPUT_VALUE not in entry or start < entry[sc.OI_INPUT_VALUE][0]:
                    entry[sc.OI_INPUT_VALUE] = (start, value)
            if (value := extra.get(sc.OI_OUTPUT_VALUE)) is not None:
                end = span.end_time or 0
                if sc.OI_OUTPUT_VALUE not in entry or end >= entry[sc.OI_OUTPUT_VALUE][0]:
                    entry[sc.OI_OUTPUT_VALUE] = (end, value)
            while len(self._seen) > _REMEMBERED_WORKFLOWS:
                self._seen.popitem(last=False)

    def recall(self, span: ReadableSpan) -> dict[str, str]:
        if span.context is None:
            return {}
        with self._lock:
            entry = self._seen.pop((span.context.trace_id, span.context.span_id), {})
        found = {key: value for key, (_, value) in entry.items()}
        for value_key, mime_key in (
            (sc.OI_INPUT_VALUE, sc.OI_INPUT_MIME_TYPE),
            (sc.OI_OUTPUT_VALUE, sc.OI_OUTPUT_MIME_TYPE),
        ):
            if value_key in found and _is_json(found[value_key]):
                found[mime_key] = sc.OI_MIME_JSON
        return found


def _with_attributes(span: ReadableSpan, extra: Mapping[str, Any]) -> ReadableSpan:
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


class OpenInferenceExporter(SpanExporter):
    """Adds the OpenInference attributes to copies of the spans, then exports the copies."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self._workflow_io = _WorkflowIO()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([self._translate(span) for span in spans])

    def _translate(self, span: ReadableSpan) -> ReadableSpan:
        attrs = span.attributes or {}
        extra = openinference_attributes(attrs)
        if not extra:
            return span
        operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
        if operation == sc.OP_INVOKE_AGENT:
            self._workflow_io.remember(span, extra)
        elif operation == sc.OP_INVOKE_WORKFLOW:
            extra = {**self._workflow_io.recall(span), **extra}
        return _with_attributes(span, extra)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.inner.shutdown()


def with_dialect(exporter: SpanExporter, dialect: str) -> SpanExporter:
    """``exporter`` as is for the GenAI dialect, wrapped for the OpenInference one."""
    return OpenInferenceExporter(exporter) if dialect == "openinference" else exporter
