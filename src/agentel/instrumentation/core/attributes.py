"""Attribute values more than one framework builds the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentel import content
from agentel import semconv as sc


def metadata_attributes(metadata: Any, prefix: str = sc.AGENTEL_METADATA_PREFIX) -> dict[str, Any]:
    """A run's or trace's metadata as ``agentel.metadata.<key>`` attributes (or under another
    prefix of ours); values that are not attribute types become their text."""
    if not isinstance(metadata, Mapping):
        return {}
    return {
        prefix + str(key): (value if isinstance(value, (str, bool, int, float)) else str(value))
        for key, value in metadata.items()
    }


def tool_result(result: Any, max_length: int) -> str:
    """``gen_ai.tool.call.result``: the tool's return value as bounded JSON."""
    value = result if isinstance(result, (str, int, float, bool, list, dict)) else str(result)
    return content.to_json(value, max_length)
