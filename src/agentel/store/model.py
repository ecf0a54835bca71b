"""What the query API returns: plain dataclasses, the same for every database."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from agentel import semconv


def ns_to_datetime(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)


def _json(value: Any) -> Any:
    """SQLite hands JSON columns back as text, PostgreSQL (json) already parsed."""
    return json.loads(value) if isinstance(value, str) else value


TRACE_COLUMNS = (
    "trace_id", "root_span_id", "name", "workflow", "status", "start_ns", "end_ns",
    "duration_ms", "conversation_id", "root_agent", "span_count", "error_count",
    "input_tokens", "output_tokens", "cost_usd", "service", "updated_ns",
)  # fmt: skip


@dataclass(frozen=True)
class TraceSummary:
    """One row of the trace list: a trace's aggregates over all of its stored spans."""

    trace_id: str
    root_span_id: str | None
    name: str
    workflow: str | None
    status: str
    start_ns: int
    end_ns: int
    duration_ms: float
    conversation_id: str | None
    root_agent: str | None
    span_count: int
    error_count: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    service: str | None
    updated_ns: int
    metadata: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(
        cls, row: Sequence[Any], metadata: Mapping[str, str] | None = None
    ) -> TraceSummary:
        return cls(*row, metadata=dict(metadata or {}))

    @property
    def start(self) -> datetime:
        return ns_to_datetime(self.start_ns)

    @property
    def complete(self) -> bool:
        """Whether the root span has arrived (the run has finished and been exported)."""
        return self.root_span_id is not None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


SPAN_RECORD_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "status", "status_message",
    "start_ns", "end_ns", "duration_ms", "operation", "workflow", "agent", "model",
    "response_model", "tool", "conversation_id", "error_type", "input_tokens",
    "output_tokens", "cached_tokens", "cost_usd", "service", "scope", "attributes", "events",
    "resource",
)  # fmt: skip


@dataclass
class SpanRecord:
    """One stored span; ``children`` is filled when it comes as part of a trace tree."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    status: str
    status_message: str | None
    start_ns: int
    end_ns: int
    duration_ms: float
    operation: str | None
    workflow: str | None
    agent: str | None
    model: str | None
    response_model: str | None
    tool: str | None
    conversation_id: str | None
    error_type: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    cost_usd: float | None
    service: str | None
    scope: str | None
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    resource: dict[str, Any]
    children: list[SpanRecord] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> SpanRecord:
        values = list(row)
        attributes, events, resource = values[-3:]
        values[-3:] = [_json(attributes), [] if events is None else _json(events), _json(resource)]
        return cls(*values)

    def subtree_cost(self) -> float | None:
        """Cost of the model calls at or under this span; None if any of them has no price."""
        total = 0.0
        for span in self.walk():
            if span.operation == semconv.OP_CHAT:
                if span.cost_usd is None:
                    return None
                total += span.cost_usd
        return total

    def walk(self) -> Iterator[SpanRecord]:
        """This span and every span under it, depth first in start order."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class TraceTree:
    """A trace with its spans nested under their parents, each level in start order."""

    summary: TraceSummary
    roots: list[SpanRecord]
    spans: list[SpanRecord]


@dataclass(frozen=True)
class StatsRow:
    """Aggregates for one agent, model, tool, conversation or workflow."""

    key: str
    runs: int
    errors: int
    p50_ms: float
    p95_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class TimelineRow:
    """Runs that started in one time bucket: what the viewer's charts plot."""

    start_ns: int
    runs: int
    errors: int
    p50_ms: float
    p95_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.runs if self.runs else 0.0
