"""``agentel show --content``: the recorded messages of a trace as a conversation.

Every model call carries the whole history as its input, so the conversation is read from
the model calls in start order and each message is shown once: who said it (the agent's
instructions once per agent), text as text, tool calls and tool results as indented JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.padding import Padding
from rich.text import Text

from agentel import semconv
from agentel.store.model import SpanRecord, TraceTree

CAPTURE_HINT = (
    "No message content was recorded for this trace. To record it, run the app with "
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY."
)
ROLE_STYLES = {"user": "bold green", "assistant": "bold cyan", "tool": "bold magenta"}
INDENT = 4


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _messages(span: SpanRecord, attribute: str) -> list[dict[str, Any]]:
    data = _parsed(span.attributes.get(attribute))
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []


def _block(value: Any, cut: int) -> RenderableType:
    """A value as pretty JSON when it is JSON (also JSON inside a string), else as text."""
    data = _parsed(value)
    if isinstance(data, dict | list):
        return Padding(JSON.from_data(data, indent=2), (0, 0, 0, INDENT))
    return Padding(Text(_cut(str(data), cut)), (0, 0, 0, INDENT))


def _cut(text: str, cut: int) -> str:
    return text if not cut or len(text) <= cut else text[: cut - 1] + "…"


def _role_line(role: str, detail: str = "") -> Text:
    line = Text(role, style=ROLE_STYLES.get(role, "bold"))
    if detail:
        line.append(f" {detail}", style="dim")
    return line


def message_parts(
    message: dict[str, Any], cut: int, tools: dict[str, str] | None = None
) -> Iterator[RenderableType]:
    """One semconv message (``{"role", "parts": [...]}``) as lines a person reads;
    ``tools`` names the tool of each call id seen so far (filled in here)."""
    tools = {} if tools is None else tools
    role = str(message.get("role", "?"))
    parts = message.get("parts")
    if not isinstance(parts, list):  # not the semconv shape: show what there is
        yield _role_line(role)
        yield _block(message.get("content", message), cut)
        return
    texts = [str(p.get("content", "")) for p in parts if p.get("type") == "text"]
    if texts:
        yield _role_line(role)
        yield Padding(Text(_cut("\n".join(texts), cut)), (0, 0, 0, INDENT))
    for part in parts:
        kind = part.get("type")
        if kind == "tool_call":
            tools[str(part.get("id"))] = str(part.get("name"))
            yield _role_line(role, f"→ calls {part.get('name')}")
            yield _block(part.get("arguments") or {}, cut)
        elif kind == "tool_call_response":
            name = tools.get(str(part.get("id")), "a tool call")
            yield _role_line("tool", f"← {name} returned")
            yield _block(part.get("response"), cut)
        elif kind == "reasoning":
            yield _role_line(role, "(reasoning)")
            yield Padding(
                Text(_cut(str(part.get("content", "")), cut), style="dim"), (0, 0, 0, INDENT)
            )
        elif kind not in ("text", None):
            yield _role_line(role, f"[{kind} {part.get('modality', '')}]".rstrip())


def _agent_of(span: SpanRecord, parents: dict[str, SpanRecord]) -> str | None:
    current: SpanRecord | None = span
    while current is not None:
        if current.operation == semconv.OP_INVOKE_AGENT:
            return current.agent
        current = parents.get(current.parent_span_id or "")
    return None


def _instructions(span: SpanRecord) -> str:
    data = _parsed(span.attributes.get(semconv.GEN_AI_SYSTEM_INSTRUCTIONS))
    if isinstance(data, list):
        return "\n".join(str(p.get("content", "")) for p in data if isinstance(p, dict))
    return "" if data is None else str(data)


def _sources(tree: TraceTree) -> list[SpanRecord]:
    """The spans to read messages from: model calls, else agent spans."""
    ordered = sorted(tree.spans, key=lambda s: (s.start_ns, s.span_id))
    for operation in (semconv.OP_CHAT, semconv.OP_INVOKE_AGENT):
        found = [
            s
            for s in ordered
            if s.operation == operation
            and (
                _messages(s, semconv.GEN_AI_INPUT_MESSAGES)
                or _messages(s, semconv.GEN_AI_OUTPUT_MESSAGES)
            )
        ]
        if found:
            return found
    return []


def _tool_io(tree: TraceTree, cut: int) -> Iterable[RenderableType]:
    """Tool arguments and results, for traces that recorded them but no messages."""
    for span in sorted(tree.spans, key=lambda s: s.start_ns):
        arguments = span.attributes.get(semconv.GEN_AI_TOOL_CALL_ARGUMENTS)
        result = span.attributes.get(semconv.GEN_AI_TOOL_CALL_RESULT)
        if arguments is None and result is None:
            continue
        yield _role_line("assistant", f"→ calls {span.tool or span.name}")
        yield _block(arguments if arguments is not None else {}, cut)
        if result is not None:
            yield _role_line("tool", f"← {span.tool or span.name} returned")
            yield _block(result, cut)


def conversation(tree: TraceTree, cut: int = 0) -> RenderableType | None:
    """The trace's messages, each once; None when none were recorded (say
    :data:`CAPTURE_HINT` then)."""
    parents = {s.span_id: s for s in tree.spans}
    seen: set[str] = set()
    tools: dict[str, str] = {}
    agent_shown: str | None = None
    lines: list[RenderableType] = []
    for span in _sources(tree):
        agent = _agent_of(span, parents) or span.agent
        if agent and agent != agent_shown:
            lines.append(Text(f"── {agent} ──", style="bold"))
            instructions = _instructions(span)
            if instructions:
                lines.append(_role_line("system", "(instructions)"))
                lines.append(Padding(Text(_cut(instructions, cut), style="dim"), (0, 0, 0, INDENT)))
            agent_shown = agent
        for attribute in (semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES):
            for message in _messages(span, attribute):
                # a reply comes back as the next call's input, without its finish_reason
                said = {"role": message.get("role"), "parts": message.get("parts", message)}
                key = json.dumps(said, sort_keys=True, default=str)
                if key in seen:
                    continue
                seen.add(key)
                lines.extend(message_parts(message, cut, tools))
    if not lines:
        lines.extend(_tool_io(tree, cut))
    if not lines:
        return None
    return Group(Text("Conversation", style="bold"), *lines)
