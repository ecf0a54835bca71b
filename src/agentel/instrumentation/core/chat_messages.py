"""Chat Completions style messages in the GenAI semconv content shapes.

Several frameworks speak the Chat Completions message format (``role``, ``content`` as a
string or a list of parts, ``tool_calls``, ``tool_call_id``), as dicts or as objects with those
fields; this converts either. Anything unknown degrades to a generic part rather than failing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agentel import content

# Chat Completions finish reasons -> the semconv's.
_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    "error": "error",
}


def field(item: Any, name: str, default: Any = None) -> Any:
    """A field of a dict or an object, whichever the framework passed."""
    if isinstance(item, dict):
        return item.get(name, default)
    return getattr(item, name, default)


def finish_reason(reason: Any) -> str:
    """The semconv finish reason for a Chat Completions one (unknown ones pass through)."""
    text = str(reason) if reason else "stop"
    return _FINISH_REASONS.get(text, text)


def input_messages(messages: Iterable[Any], capture_blobs: bool) -> list[dict[str, Any]]:
    """Request messages as semconv input messages (system messages included, as sent)."""
    return [message(item, capture_blobs) for item in messages]


def message(item: Any, capture_blobs: bool) -> dict[str, Any]:
    """One message with its parts: text and media content, tool calls, a tool's response."""
    role = str(field(item, "role") or "user")
    if role == "developer":
        role = "system"
    if role == "tool":
        response = content.parse_json(field(item, "content"))
        part = content.tool_response_part(field(item, "tool_call_id"), response)
        return {"role": "tool", "parts": [part]}
    parts = content_parts(field(item, "content"), capture_blobs)
    parts.extend(tool_call_parts(field(item, "tool_calls")))
    return {"role": role, "parts": parts}


def output_message(item: Any, reason: Any, capture_blobs: bool) -> dict[str, Any]:
    """The assistant's reply as one semconv output message with its finish reason."""
    reply = message(item, capture_blobs)
    reply["role"] = "assistant"
    reply["finish_reason"] = finish_reason(reason)
    return reply


def tool_call_parts(tool_calls: Any) -> list[dict[str, Any]]:
    parts = []
    for call in tool_calls or ():
        function = field(call, "function")
        parts.append(
            content.tool_call_part(
                field(call, "id"), field(function, "name"), field(function, "arguments")
            )
        )
    return parts


def content_parts(value: Any, capture_blobs: bool) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [content.text_part(value)]
    if not isinstance(value, (list, tuple)):
        return [content.text_part(str(value))]
    parts = []
    for piece in value:
        if isinstance(piece, str):
            parts.append(content.text_part(piece))
            continue
        piece_type = field(piece, "type")
        if piece_type in ("text", "input_text", "output_text"):
            parts.append(content.text_part(str(field(piece, "text", ""))))
        elif piece_type == "refusal":
            parts.append(content.text_part(str(field(piece, "refusal", ""))))
        elif piece_type == "image_url":
            url = field(field(piece, "image_url"), "url")
            parts.append(content.media_part("image", url, capture_blobs))
        elif piece_type == "input_audio":
            parts.append(content.media_part("audio", None, capture_blobs))
        elif piece_type == "file":
            data = field(field(piece, "file"), "file_data")
            parts.append(content.media_part("document", data, capture_blobs))
        else:
            parts.append({"type": str(piece_type or "unknown")})
    return parts


def tool_definitions(tools: Iterable[Any]) -> list[dict[str, Any]]:
    """Chat Completions tool schemas (``{"type": "function", "function": {...}}``, or the
    function dict itself) as semconv tool definitions."""
    definitions = []
    for tool in tools:
        function = field(tool, "function") or tool
        definition: dict[str, Any] = {"type": "function", "name": field(function, "name")}
        description = field(function, "description")
        if description:
            definition["description"] = description
        parameters = field(function, "parameters")
        if parameters is not None:
            definition["parameters"] = parameters
        definitions.append(definition)
    return definitions
