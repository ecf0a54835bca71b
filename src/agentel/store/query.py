"""The SQL behind the query API, written once for both databases.

Statements use ``?`` placeholders (see :meth:`Dialect.sql`) and every value a caller gives
travels as a parameter, never inside the text. Trace filters on span properties (agent,
model, tool) and on metadata are correlated ``EXISTS`` lookups on primary keys, so a
newest-first page stops as soon as it has enough rows.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from agentel import semconv
from agentel.store.model import SPAN_RECORD_COLUMNS, TRACE_COLUMNS, StatsRow, TimelineRow

When = datetime | timedelta | int
"""A point in time: a datetime, a duration back from now, or nanoseconds since the epoch."""

GroupBy = Literal["agent", "model", "tool", "conversation", "workflow"]
GROUP_BY_CHOICES: tuple[str, ...] = ("agent", "model", "tool", "conversation", "workflow")


_INT64 = (-(2**63), 2**63 - 1)


def to_ns(when: When | None, now_ns: int | None = None) -> int | None:
    """Nanoseconds since the epoch, clamped to the 64-bit range both databases store."""
    if when is None:
        return None
    if isinstance(when, datetime):
        if when.tzinfo is None:
            when = when.astimezone()
        ns = int(when.timestamp() * 1e9)
    elif isinstance(when, timedelta):
        now = time.time_ns() if now_ns is None else now_ns
        ns = now - int(when.total_seconds() * 1e9)
    else:
        ns = int(when)
    return min(max(ns, _INT64[0]), _INT64[1])


@dataclass(frozen=True)
class TraceFilter:
    """Every way to narrow the trace list; a field left None does not filter."""

    since: When | None = None
    until: When | None = None
    status: str | None = None
    workflow: str | None = None
    agent: str | None = None
    model: str | None = None
    tool: str | None = None
    conversation_id: str | None = None
    min_duration_ms: float | None = None
    max_duration_ms: float | None = None
    min_tokens: int | None = None
    min_cost: float | None = None
    metadata: tuple[str, str] | None = None
    has_errors: bool | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []

        def add(clause: str, *values: Any) -> None:
            clauses.append(clause)
            params.extend(values)

        if self.since is not None:
            add("t.start_ns >= ?", to_ns(self.since))
        if self.until is not None:
            add("t.start_ns < ?", to_ns(self.until))
        if self.status is not None:
            add("t.status = ?", self.status.lower())
        if self.workflow is not None:
            add("t.workflow = ?", self.workflow)
        if self.conversation_id is not None:
            add("t.conversation_id = ?", self.conversation_id)
        if self.min_duration_ms is not None:
            add("t.duration_ms >= ?", self.min_duration_ms)
        if self.max_duration_ms is not None:
            add("t.duration_ms <= ?", self.max_duration_ms)
        if self.min_tokens is not None:
            add("t.total_tokens >= ?", self.min_tokens)
        if self.min_cost is not None:
            add("t.cost_usd >= ?", self.min_cost)
        if self.has_errors is not None:
            clauses.append("t.error_count > 0" if self.has_errors else "t.error_count = 0")
        for kind, value in (("agent", self.agent), ("model", self.model), ("tool", self.tool)):
            if value is not None:
                # lower() on both sides, as the trace_names_lower index is built: the same
                # folding in SQLite and PostgreSQL for the names agents, models and tools have
                add(
                    "EXISTS (SELECT 1 FROM trace_names n WHERE n.kind = ? "
                    "AND lower(n.name) = lower(?) AND n.trace_seq = t.trace_seq)",
                    kind,
                    value,
                )
        if self.metadata is not None:
            add(
                "EXISTS (SELECT 1 FROM trace_metadata m "
                "WHERE m.trace_seq = t.trace_seq AND m.key = ? AND m.value = ?)",
                *self.metadata,
            )
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def count_sql(where: str) -> str:
    return f"SELECT COUNT(*) FROM traces t{where}"


def traces_sql(where: str) -> str:
    columns = ", ".join(f"t.{c}" for c in TRACE_COLUMNS)
    return (
        f"SELECT {columns} FROM traces t{where} "
        "ORDER BY t.start_ns DESC, t.trace_id DESC LIMIT ? OFFSET ?"
    )


@dataclass(frozen=True)
class SpanFilter:
    """Ways to narrow a span search; a field left None does not filter."""

    trace_id: str | None = None
    operation: str | None = None
    agent: str | None = None
    model: str | None = None
    tool: str | None = None
    status: str | None = None
    since: When | None = None
    until: When | None = None
    min_duration_ms: float | None = None

    def where(self) -> tuple[str, list[Any]]:
        pairs = [
            ("s.trace_seq = (SELECT trace_seq FROM traces WHERE trace_id = ?)", self.trace_id),
            ("s.operation = ?", self.operation),
            ("s.agent = ?", self.agent),
            ("s.model = ?", self.model),
            ("s.tool = ?", self.tool),
            ("s.status = ?", None if self.status is None else self.status.upper()),
            ("s.start_ns >= ?", to_ns(self.since)),
            ("s.start_ns < ?", to_ns(self.until)),
            ("s.duration_ms >= ?", self.min_duration_ms),
        ]
        used = [(clause, value) for clause, value in pairs if value is not None]
        where = " AND ".join(clause for clause, _ in used)
        return (" WHERE " + where) if where else "", [value for _, value in used]


# A span row keeps neither its trace id nor its resource: they come from traces and resources.
_SPAN_SOURCES = {"trace_id": "t.trace_id", "resource": "r.resource"}
SPAN_SELECT = (
    f"SELECT {', '.join(_SPAN_SOURCES.get(c, f's.{c}') for c in SPAN_RECORD_COLUMNS)} "
    "FROM spans s JOIN traces t ON t.trace_seq = s.trace_seq "
    "JOIN resources r ON r.resource_id = s.resource_id"
)


def spans_sql(where: str) -> str:
    return f"{SPAN_SELECT}{where} ORDER BY s.start_ns DESC, s.span_id LIMIT ? OFFSET ?"


# --- stats -----------------------------------------------------------------------------------

_SPAN_GROUPS = {
    "agent": ("agent", semconv.OP_INVOKE_AGENT),
    "model": ("model", semconv.OP_CHAT),
    "tool": ("tool", semconv.OP_EXECUTE_TOOL),
}
_TRACE_GROUPS = {"conversation": "conversation_id", "workflow": "workflow"}


# The spans of traces that end after a time, by primary key. PostgreSQL plans ``IN
# (subquery)`` as a hash join over a scan of every span; an array it probes by key (5-10x
# faster for a day of a 1 M-span store).
_TRACES_SINCE = {
    "sqlite": " AND {alias}trace_seq IN (SELECT trace_seq FROM traces WHERE end_ns >= ?)",
    "postgres": (
        " AND {alias}trace_seq = ANY(ARRAY(SELECT trace_seq FROM traces WHERE end_ns >= ?))"
    ),
}


def stats_queries(
    group_by: str, since_ns: int | None, through_traces: bool = False, dialect: str = "sqlite"
) -> list[tuple[str, list[Any]]]:
    """The one or two reads whose rows :func:`aggregate_stats` turns into stats.

    ``through_traces`` reaches the period's spans through their traces, by primary key:
    spans have no time index, so this is worth it when the period holds a small part of the
    store, and slower than reading every span when it holds most of it.

    Each returns (key, duration_ms, is_error, input_tokens, output_tokens, cost_usd, priced)
    per run. A run is an agent's, model call's or tool call's own span, or for workflows and
    conversations a whole trace; it failed when that span (the trace's root) has status
    ERROR, the same definition ``traces --status error`` uses. For agents a second read gives
    the model calls made directly by each agent span, since agent spans carry tokens but no
    model to price them by.
    """
    since = "" if since_ns is None else " AND {alias}start_ns >= ?"
    since_params = [] if since_ns is None else [since_ns]
    if group_by in _TRACE_GROUPS:
        column = _TRACE_GROUPS[group_by]
        sql = (
            f"SELECT {column}, duration_ms, CASE WHEN status = ? THEN 1 ELSE 0 END, "
            "input_tokens, output_tokens, cost_usd, CASE WHEN cost_usd IS NULL THEN 0 ELSE 1 END "
            f"FROM traces WHERE {column} IS NOT NULL{since.format(alias='')}"
        )
        return [(sql, ["error", *since_params])]
    if group_by not in _SPAN_GROUPS:
        choices = ", ".join(GROUP_BY_CHOICES)
        raise ValueError(f"group_by={group_by!r} is not one of {choices}")
    column, operation = _SPAN_GROUPS[group_by]
    if since_ns is not None and through_traces:
        # a span that starts after ``since`` belongs to a trace that ends after it
        since += _TRACES_SINCE[dialect]
        since_params.append(since_ns)
    own_usage = group_by == "model"
    # a tool call has no tokens or cost of its own: unpriced (shown as unknown), never $0
    priced = "CASE WHEN cost_usd IS NULL THEN 0 ELSE 1 END " if own_usage else "0 "
    if group_by == "agent":
        priced = "1 "  # priced by the model calls the second read adds
    runs = (
        f"SELECT {column}, duration_ms, CASE WHEN status = ? THEN 1 ELSE 0 END, "
        + ("input_tokens, output_tokens, cost_usd, " if own_usage else "0, 0, NULL, ")
        + priced
        + f"FROM spans WHERE operation = ? AND {column} IS NOT NULL{since.format(alias='')}"
    )
    queries = [(runs, ["ERROR", operation, *since_params])]
    if group_by == "agent":
        calls = (
            "SELECT a.agent, c.input_tokens, c.output_tokens, c.cost_usd FROM spans c "
            "JOIN spans a ON a.trace_seq = c.trace_seq AND a.span_id = c.parent_span_id "
            "WHERE c.operation = ? AND a.operation = ? AND a.agent IS NOT NULL"
            f"{since.format(alias='a.')}"
        )
        queries.append((calls, [semconv.OP_CHAT, operation, *since_params]))
    return queries


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile of already sorted values."""
    if not ordered:
        return 0.0
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def aggregate_stats(
    runs: Iterable[Sequence[Any]], calls: Iterable[Sequence[Any]] = ()
) -> list[StatsRow]:
    """Group per-run rows by key; busiest first."""
    durations: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    tokens: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    cost: dict[str, float | None] = defaultdict(float)

    def add_usage(key: str, input_t: Any, output_t: Any, usd: Any, priced: bool) -> None:
        tokens[key][0] += input_t or 0
        tokens[key][1] += output_t or 0
        known = cost[key]
        cost[key] = None if known is None or not priced else known + (usd or 0.0)

    for key, duration, is_error, input_t, output_t, usd, priced in runs:
        durations[key].append(duration)
        errors[key] += is_error
        add_usage(key, input_t, output_t, usd, bool(priced))
    for key, input_t, output_t, usd in calls:
        if key in durations:
            add_usage(key, input_t, output_t, usd, usd is not None)
    result = []
    for key, values in durations.items():
        values.sort()
        result.append(
            StatsRow(
                key=str(key),
                runs=len(values),
                errors=errors[key],
                p50_ms=percentile(values, 0.50),
                p95_ms=percentile(values, 0.95),
                input_tokens=tokens[key][0],
                output_tokens=tokens[key][1],
                cost_usd=cost[key],
            )
        )
    result.sort(key=lambda row: (-row.runs, row.key))
    return result


NARROW_SHARE = 0.25  # the most of all traces a period may hold to be read through its traces

# --- names -----------------------------------------------------------------------------------


def distinct_sql(table: str, column: str, where: str) -> str:
    """Each distinct value of an indexed column, in order, by hopping from one value to the
    next in the index (one lookup per name), instead of reading an entry per trace as
    ``SELECT DISTINCT`` does; ``where`` (``"... AND "``) narrows both lookups."""
    return (
        "WITH RECURSIVE found(value) AS ("
        f"SELECT MIN({column}) FROM {table} WHERE {where}{column} IS NOT NULL "
        "UNION ALL "
        f"SELECT (SELECT MIN({column}) FROM {table} WHERE {where}{column} > found.value) "
        "FROM found WHERE found.value IS NOT NULL) "
        "SELECT value FROM found WHERE value IS NOT NULL LIMIT ?"
    )


# --- timeline --------------------------------------------------------------------------------

TIMELINE_SQL = (
    "SELECT start_ns, duration_ms, CASE WHEN status = ? THEN 1 ELSE 0 END, "
    "input_tokens, output_tokens, cost_usd FROM traces WHERE start_ns >= ? AND start_ns < ?"
)


def aggregate_timeline(
    runs: Iterable[Sequence[Any]], since_ns: int, until_ns: int, bucket_ns: int
) -> list[TimelineRow]:
    """Per-run rows from :data:`TIMELINE_SQL` -> one row per bucket from ``since_ns`` to
    ``until_ns``, empty buckets included, so a chart's x axis is even."""
    count = max(1, -(-(until_ns - since_ns) // bucket_ns))
    durations: list[list[float]] = [[] for _ in range(count)]
    errors = [0] * count
    tokens = [[0, 0] for _ in range(count)]
    cost = [0.0] * count
    for start, duration, is_error, input_t, output_t, usd in runs:
        index = min((start - since_ns) // bucket_ns, count - 1)
        durations[index].append(duration)
        errors[index] += is_error
        tokens[index][0] += input_t or 0
        tokens[index][1] += output_t or 0
        cost[index] += usd or 0.0
    result = []
    for index, values in enumerate(durations):
        values.sort()
        result.append(
            TimelineRow(
                start_ns=since_ns + index * bucket_ns,
                runs=len(values),
                errors=errors[index],
                p50_ms=percentile(values, 0.50),
                p95_ms=percentile(values, 0.95),
                input_tokens=tokens[index][0],
                output_tokens=tokens[index][1],
                cost_usd=cost[index],
            )
        )
    return result
