"""The OpenInference dialect: the GenAI attributes again under the names Phoenix reads.

Added at export, and only when asked: ``openinference.span.kind``, ``input.value``/
``output.value`` (with their mime types), ``llm.*`` and ``session.id``, with the same values,
so Phoenix and MLflow show kinds for workflow, agent and guardrail spans and fill their
input and output panes (MLflow's trace list previews the root span's input and output).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agentel import semconv as sc
from agentel.export.dialects import DialectExporter, io_value, metadata

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


def openinference_attributes(
    attrs: Mapping[str, Any], run_io: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The OpenInference attributes for one span's GenAI attributes (empty if not ours);
    ``run_io`` gives a workflow span the run's input and output."""
    operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
    if operation not in _KINDS:
        return {}
    extra: dict[str, Any] = {sc.OI_SPAN_KIND: _KINDS[operation]}
    if (conversation := attrs.get(sc.GEN_AI_CONVERSATION_ID)) is not None:
        extra[sc.OI_SESSION_ID] = conversation
    input_key, output_key = _IO_BY_OPERATION.get(operation, (None, None))
    run_io = run_io or {}
    for source, side, value_key, mime_key in (
        (input_key, "input", *_INPUT_KEYS),
        (output_key, "output", *_OUTPUT_KEYS),
    ):
        raw = attrs.get(source) if source else None
        if raw is None:
            raw = run_io.get(side)
        if isinstance(raw, str):
            extra[value_key], extra[mime_key] = io_value(raw)
    if operation == sc.OP_INVOKE_AGENT and (agent := attrs.get(sc.GEN_AI_AGENT_NAME)):
        extra[sc.OI_AGENT_NAME] = agent
    if operation == sc.OP_EXECUTE_TOOL and (tool := attrs.get(sc.GEN_AI_TOOL_NAME)):
        extra[sc.OI_TOOL_NAME] = tool
    if operation == sc.OP_CHAT:
        extra.update(_llm_attributes(attrs))
    if operation == sc.OP_INVOKE_WORKFLOW and (entries := metadata(attrs)):
        extra[sc.OI_METADATA] = json.dumps(entries, default=str)
    return extra


_INPUT_KEYS = (sc.OI_INPUT_VALUE, sc.OI_INPUT_MIME_TYPE)
_OUTPUT_KEYS = (sc.OI_OUTPUT_VALUE, sc.OI_OUTPUT_MIME_TYPE)


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


class OpenInferenceExporter(DialectExporter):
    """Adds the OpenInference attributes to copies of the spans, then exports the copies."""

    def attributes(
        self, attrs: Mapping[str, Any], run_io: Mapping[str, str], *, root: bool
    ) -> dict[str, Any]:
        return openinference_attributes(attrs, run_io)
