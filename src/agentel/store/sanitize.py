"""Copies of spans that every database can hold: for the rare batch a store refuses.

What a store cannot take: lone UTF-16 surrogates (a non-UTF-8 file name in an error message
decodes to them; UTF-8 cannot encode them), NUL characters (PostgreSQL text refuses them),
integers past 64 bits, NaN and infinities (not JSON), and values of types that are not OTel
attribute values at all. Each is replaced (U+FFFD, or the value's text), so the span is
stored with everything else intact rather than lost with its whole batch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Link, Status

from agentel import semconv

REPLACEMENT = "\ufffd"
# Attributes the store copies into numeric columns: a value that is not a storable number
# there is left out (kept as text it would still be refused).
_NUMERIC_COLUMNS = frozenset(
    {
        semconv.GEN_AI_USAGE_INPUT_TOKENS,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
        semconv.AGENTEL_USAGE_COST_USD,
    }
)
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")
_INT64 = 2**63


class _Cleaner:
    """Cleans values, remembering whether anything had to change."""

    def __init__(self) -> None:
        self.changed = False

    def text(self, value: str) -> str:
        cleaned = _UNSTORABLE.sub(REPLACEMENT, value)
        if cleaned != value:
            self.changed = True
        return cleaned

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            if -_INT64 <= value < _INT64:
                return value
        elif isinstance(value, float):
            if math.isfinite(value):
                return value
        elif isinstance(value, (list, tuple)):
            return tuple(self.value(item) for item in value)
        self.changed = True
        try:
            return self.text(str(value))
        except Exception:
            return f"<{type(value).__name__}>"

    def attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        cleaned = {self.text(str(k)): self.value(v) for k, v in (attributes or {}).items()}
        for key in _NUMERIC_COLUMNS.intersection(cleaned):
            if isinstance(cleaned[key], str):
                del cleaned[key]
        return cleaned


def clean_span(span: ReadableSpan) -> tuple[ReadableSpan, bool]:
    """A copy of ``span`` holding only storable values, and whether anything was replaced."""
    cleaner = _Cleaner()
    resource = span.resource
    copy = ReadableSpan(
        name=cleaner.text(span.name),
        context=span.context,
        parent=span.parent,
        resource=Resource(
            cleaner.attributes(resource.attributes if resource is not None else {}),
            getattr(resource, "schema_url", None),
        ),
        attributes=cleaner.attributes(span.attributes),
        events=[
            Event(cleaner.text(e.name), cleaner.attributes(e.attributes), e.timestamp)
            for e in span.events
        ],
        links=[Link(link.context, cleaner.attributes(link.attributes)) for link in span.links],
        kind=span.kind,
        status=Status(
            span.status.status_code,
            None if span.status.description is None else cleaner.text(span.status.description),
        ),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
    return copy, cleaner.changed


def clean_spans(spans: Sequence[ReadableSpan]) -> tuple[list[ReadableSpan], int]:
    """Storable copies of ``spans`` and how many of them had a value replaced."""
    cleaned = [clean_span(span) for span in spans]
    return [span for span, _ in cleaned], sum(changed for _, changed in cleaned)
