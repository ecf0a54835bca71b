"""The Langfuse dialect: the session, user and trace input/output where Langfuse reads them.

Langfuse's OTel ingestion takes a trace's session from ``langfuse.session.id`` or
``session.id``, its user from ``langfuse.user.id`` or ``user.id``, and the input and output
shown in its trace list from ``langfuse.trace.input``/``langfuse.trace.output``; observations
keep the GenAI attributes, which it maps itself. So the conversation id goes on every span
that has one, and the workflow (or a root agent) span gets the run's first input and final
output, its name and its metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentel import semconv as sc
from agentel.export.dialects import DialectExporter, io_value, metadata, user_id


def langfuse_attributes(
    attrs: Mapping[str, Any], run_io: Mapping[str, str] | None = None, *, root: bool = False
) -> dict[str, Any]:
    """The Langfuse trace attributes one span should carry (empty if not ours)."""
    operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
    if operation is None:
        return {}
    extra: dict[str, Any] = {}
    if (conversation := attrs.get(sc.GEN_AI_CONVERSATION_ID)) is not None:
        extra[sc.LANGFUSE_SESSION_ID] = extra[sc.OI_SESSION_ID] = conversation
    if (user := user_id(attrs)) is not None:
        extra[sc.LANGFUSE_USER_ID] = extra[sc.USER_ID] = user
    if operation == sc.OP_INVOKE_WORKFLOW:
        if name := attrs.get(sc.GEN_AI_WORKFLOW_NAME):
            extra[sc.LANGFUSE_TRACE_NAME] = name
        for key, value in metadata(attrs).items():
            extra[sc.LANGFUSE_TRACE_METADATA_PREFIX + key] = str(value)
        run_input, run_output = (run_io or {}).get("input"), (run_io or {}).get("output")
    elif operation == sc.OP_INVOKE_AGENT and root:
        run_input = attrs.get(sc.GEN_AI_INPUT_MESSAGES)
        run_output = attrs.get(sc.GEN_AI_OUTPUT_MESSAGES)
    else:
        return extra
    if isinstance(run_input, str):
        extra[sc.LANGFUSE_TRACE_INPUT] = io_value(run_input)[0]
    if isinstance(run_output, str):
        extra[sc.LANGFUSE_TRACE_OUTPUT] = io_value(run_output)[0]
    return extra


class LangfuseExporter(DialectExporter):
    """Adds the Langfuse trace attributes to copies of the spans, then exports the copies."""

    def attributes(
        self, attrs: Mapping[str, Any], run_io: Mapping[str, str], *, root: bool
    ) -> dict[str, Any]:
        return langfuse_attributes(attrs, run_io, root=root)
