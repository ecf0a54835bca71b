"""Message content in the GenAI semconv JSON shapes, bounded in size.

Content is the biggest thing a span can carry and the most sensitive, so everything that turns
it into attribute strings lives here: the part shapes, base64 blob redaction (a multi-megabyte
image must not end up in a trace by accident) and truncation that keeps the JSON valid, since
backends parse these strings and drop what they cannot parse.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+/-]+)?(?:;[\w=.-]+)*;base64,", re.IGNORECASE)
# Short identifying fields are kept whole; every other string may be cut.
_STRUCTURAL_KEYS = frozenset(
    {"type", "role", "id", "name", "modality", "mime_type", "finish_reason"}
)
_MIN_TEXT_BUDGET = 16


def compact_encoder() -> Callable[[Any], str]:
    """Compact JSON (unknown objects as their ``str``) without the cycle check, built once.

    ``json.dumps`` with any option set builds a new encoder, and ``JSONEncoder.encode`` a new
    C encoder, on every call; calling one C encoder directly saves a fifth of the time on
    small values. Without the cycle check a cyclic value raises ``RecursionError`` or
    ``ValueError`` instead of being caught early: callers fall back to ``json.dumps``.
    """
    encoder = json.JSONEncoder(
        separators=(",", ":"), default=str, ensure_ascii=False, check_circular=False
    )
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the public path
        return encoder.encode
    iterencode = make(None, str, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    return lambda value: "".join(iterencode(value, 0))


_compact = compact_encoder()


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "content": text}


def tool_call_part(call_id: str | None, name: str | None, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": parse_json(arguments)}


def tool_response_part(call_id: str | None, response: Any) -> dict[str, Any]:
    return {"type": "tool_call_response", "id": call_id, "response": response}


def system_instructions(text: str) -> list[dict[str, str]]:
    """``gen_ai.system_instructions``: one text part."""
    return [{"type": "text", "content": text}]


def reasoning_part(text: str) -> dict[str, Any]:
    return {"type": "reasoning", "content": text}


def parse_json(value: Any) -> Any:
    """Tool arguments arrive as JSON text; show them as objects when they parse."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def media_part(modality: str, url: str | None, capture_blobs: bool) -> dict[str, Any]:
    """An image/audio/file reference: a URI stays, inline base64 becomes a size marker."""
    if not url:
        return {"type": "blob", "modality": modality}
    match = _DATA_URL.match(url)
    if match is None:
        return {"type": "uri", "modality": modality, "uri": url}
    part: dict[str, Any] = {"type": "blob", "modality": modality}
    if match.group("mime"):
        part["mime_type"] = match.group("mime")
    payload = url[match.end() :]
    part["content"] = payload if capture_blobs else blob_marker(payload)
    return part


def blob_marker(base64_payload: str) -> str:
    """What stands in for a base64 payload: its decoded size, so the trace still says why."""
    return f"[blob omitted: {len(base64_payload) * 3 // 4} bytes]"


def encode(value: Any) -> str:
    """Compact JSON of ``value``, whatever its size."""
    try:
        return _compact(value)
    except (RecursionError, ValueError):  # a cyclic value: the checking encoder says so
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def to_json(value: Any, max_length: int) -> str:
    """Compact JSON no longer than ``max_length`` characters, still parseable."""
    text = encode(value)
    if len(text) <= max_length:
        return text
    return _truncated(value, max_length)


class JsonCache:
    """The JSON text of content that comes back call after call, by a key that says what it is.

    Every model call of a run sends the whole conversation so far, the same tool definitions
    and the same instructions, so converting and encoding them anew each time makes content
    capture cost grow with the square of a run's length. Callers key an entry by the plain
    strings that fully determine it (a tool call's id, name and arguments), so a hit is the
    same text a fresh conversion would give. Bounded by total characters: when full it starts
    again empty, which costs one conversion per entry, never a wrong answer.
    """

    __slots__ = ("_chars", "_entries", "_max_chars")

    def __init__(self, max_chars: int = 1_000_000) -> None:
        self._entries: dict[Any, str] = {}
        self._chars = 0
        self._max_chars = max_chars

    def text(self, key: Any, build: Callable[[], Any]) -> str:
        """The JSON of ``build()``, from the cache when ``key`` was seen."""
        text = self._entries.get(key)
        if text is None:
            text = encode(build())
            self._chars += len(text)
            if self._chars > self._max_chars:
                self._entries.clear()
                self._chars = len(text)
            self._entries[key] = text
        return text


class SnapshotCache:
    """The JSON text of values that come back equal but not identical (a framework rebuilds
    its tool definitions for every model call), by a name and a deep copy compared for
    equality, so a value changed in place is never answered with its old text."""

    __slots__ = ("_entries", "_max_entries")

    def __init__(self, max_entries: int = 256) -> None:
        self._entries: dict[Any, tuple[Any, str]] = {}
        self._max_entries = max_entries

    def text(self, key: Any, value: Any) -> str:
        """The JSON of ``value``, from the cache when the entry under ``key`` equals it."""
        entry = self._entries.get(key)
        try:
            if entry is not None and entry[0] == value:
                return entry[1]
            snapshot = copy.deepcopy(value)
        except Exception:  # an object that cannot be compared or copied: no caching
            return encode(value)
        text = encode(value)
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (snapshot, text)
        return text


# The opening of a message of each standard role, encoded once.
_MESSAGE_OPENINGS = {
    role: f'{{"role":"{role}","parts":[' for role in ("user", "assistant", "system", "tool")
}


def messages_json(messages: list[tuple[str, list[str]]], finish_reason: str | None = None) -> str:
    """Semconv messages from each one's role and its parts' JSON texts: the same text that
    encoding ``{"role": ..., "parts": [...]}`` dicts (with ``finish_reason`` on each, when
    given) would give, assembled from parts encoded once."""
    tail = "]}" if finish_reason is None else f'],"finish_reason":{encode(finish_reason)}}}'
    openings = _MESSAGE_OPENINGS
    return (
        "["
        + ",".join(
            (openings.get(role) or f'{{"role":{encode(role)},"parts":[') + ",".join(parts) + tail
            for role, parts in messages
        )
        + "]"
    )


def _truncated(value: Any, max_length: int) -> str:
    """Share the length left after the JSON structure evenly among the texts, then cut them.

    Cutting the texts (not the JSON) is what keeps the string parseable; giving each text an
    equal budget keeps the start of every message rather than all of the first one.
    """
    skeleton = json.loads(json.dumps(value, default=str))
    slots: list[tuple[Any, Any]] = []
    _collect_texts(skeleton, slots)
    holders = [(holder, key, holder[key]) for holder, key in slots]
    for holder, key, _ in holders:
        holder[key] = ""
    overhead = len(json.dumps(skeleton, ensure_ascii=False, separators=(",", ":")))
    if holders:
        budget = max(_MIN_TEXT_BUDGET, (max_length - overhead) // len(holders) - 32)
        for holder, key, original in holders:
            holder[key] = _cut(original, budget)
        text = json.dumps(skeleton, ensure_ascii=False, separators=(",", ":"))
        if len(text) <= max_length:
            return text
    marker = {"truncated": True, "original_length": len(json.dumps(value, default=str))}
    return json.dumps(marker, separators=(",", ":"))


def _collect_texts(node: Any, out: list[Any]) -> None:
    if isinstance(node, dict):
        for key, item in node.items():
            if isinstance(item, str):
                if key not in _STRUCTURAL_KEYS:
                    out.append((node, key))
            else:
                _collect_texts(item, out)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, str):
                out.append((node, index))
            else:
                _collect_texts(item, out)


def _cut(text: str, budget: int) -> str:
    if len(text) <= budget:
        return text
    return f"{text[:budget]}...[truncated {len(text) - budget} chars]"
