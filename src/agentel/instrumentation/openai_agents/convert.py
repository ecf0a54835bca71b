"""OpenAI Agents SDK objects -> GenAI semconv message and tool-definition shapes.

The SDK speaks the Responses API item format everywhere (also for Chat Completions models),
so one converter covers both model APIs. Items may be plain dicts or pydantic models; both are
read through :func:`_field` so a new SDK item type degrades to a generic part instead of
failing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from agentel import content
from agentel.instrumentation.core.chat_messages import field as _field

_FINISH_BY_INCOMPLETE_REASON = {"max_output_tokens": "length", "content_filter": "content_filter"}
# Encoded parts and definitions, shared by every run of the process (bounded; see content).
_PARTS = content.JsonCache()
_DEFINITIONS = content.SnapshotCache()


def input_messages(items: str | Iterable[Any], capture_blobs: bool) -> list[dict[str, Any]]:
    """The model input (a string or Responses input items) as semconv input messages."""
    if isinstance(items, str):
        return [{"role": "user", "parts": [content.text_part(items)]}]
    pairs = (_item_role_and_parts(item, capture_blobs) for item in items)
    return [{"role": role, "parts": parts} for role, parts in _grouped(pairs)]


def _grouped(roles_and_parts: Iterable[tuple[str, list[Any]]]) -> list[tuple[str, list[Any]]]:
    """One message per run of items of one role, for the assistant's and tools' items (a turn
    that calls two tools is one assistant message, their results one tool message)."""
    messages: list[tuple[str, list[Any]]] = []
    for role, parts in roles_and_parts:
        if messages and messages[-1][0] == role and role in ("assistant", "tool"):
            messages[-1][1].extend(parts)
        else:
            messages.append((role, parts))
    return messages


def input_messages_json(items: str | Iterable[Any], capture_blobs: bool, max_length: int) -> str:
    """``content.to_json(input_messages(...))``, with each tool call, tool result and text
    message encoded once for all the model calls that resend it."""
    if isinstance(items, str):
        return content.to_json(input_messages(items, capture_blobs), max_length)
    messages = _grouped(_item_role_and_texts(item, capture_blobs) for item in items)
    return _bounded(
        content.messages_json(messages), max_length, partial(input_messages, items, capture_blobs)
    )


def output_messages_json(
    items: Iterable[Any], finish_reason: str, capture_blobs: bool, max_length: int
) -> str:
    """``content.to_json(output_messages(...))``; its tool calls, resent as input by the next
    model call, are encoded once for both."""
    parts: list[str] = []
    for item in items:
        parts.extend(_item_role_and_texts(item, capture_blobs)[1])
    text = content.messages_json([("assistant", parts)], finish_reason)
    return _bounded(text, max_length, partial(output_messages, items, finish_reason, capture_blobs))


def tool_definitions_json(tools: Iterable[Any], handoffs: Iterable[Any], max_length: int) -> str:
    """``content.to_json(tool_definitions(...))``, each definition encoded once while it stays
    the same (the SDK rebuilds handoff definitions for every model call)."""
    definitions = tool_definitions(tools, handoffs)
    text = "[" + ",".join(_DEFINITIONS.text(d["name"], d) for d in definitions) + "]"
    return _bounded(text, max_length, lambda: definitions)


def system_instructions_json(instructions: Any, max_length: int) -> str:
    """``content.to_json(content.system_instructions(...))``, encoded once per text."""
    fresh = partial(content.system_instructions, instructions)
    if type(instructions) is not str:
        return content.to_json(fresh(), max_length)
    return _bounded(_PARTS.text(("system", instructions), fresh), max_length, fresh)


def _bounded(text: str, max_length: int, fresh: Callable[[], Any]) -> str:
    """``text`` when it fits; else the value ``fresh()`` builds, truncated the usual way."""
    if len(text) <= max_length:
        return text
    return content.to_json(fresh(), max_length)


def output_messages(items: Iterable[Any], finish_reason: str, capture_blobs: bool) -> list[Any]:
    """The model output items as one assistant message with its finish reason."""
    parts: list[dict[str, Any]] = []
    for item in items:
        parts.extend(_item_role_and_parts(item, capture_blobs)[1])
    return [{"role": "assistant", "parts": parts, "finish_reason": finish_reason}]


def finish_reason(
    items: Iterable[Any], incomplete_reason: str | None = None, function_called: bool = False
) -> str:
    """The semconv finish reason: the SDK's ModelResponse does not keep the provider's own.
    ``function_called``: the caller has already seen a ``function_call`` item."""
    if incomplete_reason:
        return _FINISH_BY_INCOMPLETE_REASON.get(incomplete_reason, incomplete_reason)
    if function_called:
        return "tool_call"
    for item in items:
        if _field(item, "type") in ("function_call", "mcp_call", "custom_tool_call"):
            return "tool_call"
    return "stop"


def tool_definitions(tools: Iterable[Any], handoffs: Iterable[Any]) -> list[dict[str, Any]]:
    """Function tools and handoffs (which the model sees as functions) as semconv definitions."""
    definitions = []
    for tool in tools:
        definition: dict[str, Any] = {"type": "function", "name": _field(tool, "name")}
        if _field(tool, "description"):
            definition["description"] = _field(tool, "description")
        schema = _field(tool, "params_json_schema")
        if schema is not None:
            definition["parameters"] = schema
        definitions.append(definition)
    for handoff in handoffs:
        definitions.append(
            {
                "type": "function",
                "name": _field(handoff, "tool_name"),
                "description": _field(handoff, "tool_description"),
                "parameters": _field(handoff, "input_json_schema"),
            }
        )
    return definitions


def _item_role_and_parts(item: Any, capture_blobs: bool) -> tuple[str, list[dict[str, Any]]]:
    # Input items are mostly plain dicts: read them through their own ``get``.
    get = item.get if type(item) is dict else partial(getattr, item)
    item_type = get("type", None)
    if item_type == "function_call":
        part = content.tool_call_part(
            get("call_id", None), get("name", None), get("arguments", None)
        )
        return "assistant", [part]
    if item_type == "function_call_output":
        part = content.tool_response_part(get("call_id", None), get("output", None))
        return "tool", [part]
    if item_type == "reasoning":
        summary = get("summary", None) or []
        text = "\n".join(str(_field(s, "text", "")) for s in summary)
        return "assistant", [content.reasoning_part(text)]
    role = get("role", None)
    if role is not None:
        return _message_role(role), _content_parts(get("content", None), capture_blobs)
    return "assistant", [{"type": str(item_type or "unknown")}]


def _message_role(role: str) -> str:
    return "system" if role == "developer" else role


def _content_parts(value: Any, capture_blobs: bool) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [content.text_part(value)]
    parts = []
    for piece in value:
        piece_type = _field(piece, "type")
        if piece_type in ("input_text", "output_text", "text"):
            parts.append(content.text_part(_field(piece, "text", "")))
        elif piece_type == "refusal":
            parts.append(content.text_part(_field(piece, "refusal", "")))
        elif piece_type == "input_image":
            url = _field(piece, "image_url") or _field(piece, "file_id")
            parts.append(content.media_part("image", url, capture_blobs))
        elif piece_type == "input_audio":
            parts.append(content.media_part("audio", None, capture_blobs))
        elif piece_type == "input_file":
            url = _field(piece, "file_data") or _field(piece, "file_url")
            part = content.media_part("document", url, capture_blobs)
            if _field(piece, "file_id"):
                part = {"type": "file", "modality": "document", "file_id": _field(piece, "file_id")}
            parts.append(part)
        else:
            parts.append({"type": str(piece_type or "unknown")})
    return parts


def _item_role_and_texts(item: Any, capture_blobs: bool) -> tuple[str, list[str]]:
    """``_item_role_and_parts`` with each part as JSON text; the parts that a later model call
    sends again (tool calls, tool results, text messages) come from the cache, keyed by the
    strings that make them, so only items of plain strings are cached."""
    get = item.get if type(item) is dict else partial(getattr, item)
    item_type = get("type", None)
    if item_type == "function_call":
        call_id, name, arguments = get("call_id", None), get("name", None), get("arguments", None)
        if _plain(call_id) and _plain(name) and _plain(arguments):
            build = partial(content.tool_call_part, call_id, name, arguments)
            return "assistant", [_PARTS.text(("call", call_id, name, arguments), build)]
    elif item_type == "function_call_output":
        call_id, output = get("call_id", None), get("output", None)
        if _plain(call_id) and type(output) is str:
            build = partial(content.tool_response_part, call_id, output)
            return "tool", [_PARTS.text(("output", call_id, output), build)]
    elif item_type in (None, "message"):
        role, text = get("role", None), get("content", None)
        if type(role) is str and type(text) is str:
            return _message_role(role), [
                _PARTS.text(("text", text), partial(content.text_part, text))
            ]
    role, parts = _item_role_and_parts(item, capture_blobs)
    return role, [content.encode(part) for part in parts]


def _plain(value: Any) -> bool:
    return value is None or type(value) is str
