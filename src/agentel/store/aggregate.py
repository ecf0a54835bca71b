"""Trace aggregates, kept up to date from each batch's new spans only.

A batch carries some spans of some traces. For each trace it computes the batch's share
(span and error counts, token sums, cost, time range, root and first agent), and one upsert
merges that share into the ``traces`` row: sums add, times widen, the root span's name and
workflow win once the root arrives. Only spans not already stored count (the writer checks,
under the trace's lock), so re-export adds nothing and batches from several processes add
up to the same row as one batch with every span would.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from agentel import semconv
from agentel.store.rows import STORED
from agentel.store.schema import Dialect

# Positions in a stored span row (see rows.STORED_COLUMNS).
SEQ, SPAN_ID, IS_ROOT, NAME, STATUS, START, END = (
    STORED[c] for c in ("trace_seq", "span_id", "is_root", "name", "status", "start_ns", "end_ns")
)
OPERATION, WORKFLOW, AGENT, CONVERSATION = (
    STORED[c] for c in ("operation", "workflow", "agent", "conversation_id")
)
INPUT_TOKENS, OUTPUT_TOKENS, COST, SERVICE = (
    STORED[c] for c in ("input_tokens", "output_tokens", "cost_usd", "service")
)

TRACE_UPSERT_COLUMNS = (
    "trace_seq", "trace_id", "root_span_id", "name", "workflow", "status", "start_ns", "end_ns",
    "duration_ms", "conversation_id", "root_agent", "root_agent_start_ns", "span_count",
    "error_count", "input_tokens", "output_tokens", "total_tokens", "cost_usd",
    "unpriced_calls", "service", "updated_ns",
)  # fmt: skip


# PostgreSQL types of TRACE_UPSERT_COLUMNS, for the array form of the upsert
_PG_TYPES = (
    "bigint", "text", "text", "text", "text", "text", "bigint", "bigint", "float8", "text",
    "text", "bigint", "bigint", "bigint", "bigint", "bigint", "bigint", "float8", "bigint",
    "text", "bigint",
)  # fmt: skip


def upsert_traces(cursor: Any, dialect: Dialect, shares: Sequence[tuple[Any, ...]]) -> None:
    """Merge the batch's shares (from :func:`trace_shares`) into ``traces``."""
    sql = trace_upsert_sql(dialect)
    if dialect.name == "postgres":
        cursor.execute(sql, [list(column) for column in zip(*shares, strict=True)])
    else:
        cursor.executemany(sql, shares)


def trace_upsert_sql(dialect: Dialect) -> str:
    least, greatest = ("MIN", "MAX") if dialect.name == "sqlite" else ("LEAST", "GREATEST")
    start = f"{least}(traces.start_ns, excluded.start_ns)"
    end = f"{greatest}(traces.end_ns, excluded.end_ns)"
    earlier_agent = (
        "excluded.root_agent_start_ns IS NOT NULL AND (traces.root_agent_start_ns IS NULL "
        "OR excluded.root_agent_start_ns < traces.root_agent_start_ns)"
    )
    columns = ", ".join(TRACE_UPSERT_COLUMNS)
    if dialect.name == "postgres":  # one statement for the batch: arrays, one per column
        source = "SELECT * FROM unnest(" + ", ".join(f"?::{t}[]" for t in _PG_TYPES) + ")"
    else:
        source = "VALUES (" + ", ".join("?" for _ in TRACE_UPSERT_COLUMNS) + ")"
    return dialect.sql(f"""
INSERT INTO traces ({columns}) {source}
ON CONFLICT (trace_seq) DO UPDATE SET
    root_span_id = COALESCE(traces.root_span_id, excluded.root_span_id),
    name = CASE WHEN traces.root_span_id IS NOT NULL THEN traces.name
        WHEN excluded.root_span_id IS NOT NULL OR excluded.start_ns < traces.start_ns
        THEN excluded.name ELSE traces.name END,
    workflow = CASE WHEN traces.root_span_id IS NULL AND excluded.root_span_id IS NOT NULL
        THEN COALESCE(excluded.workflow, traces.workflow)
        ELSE COALESCE(traces.workflow, excluded.workflow) END,
    status = CASE WHEN excluded.root_span_id IS NOT NULL THEN excluded.status
        ELSE traces.status END,
    start_ns = {start},
    end_ns = {end},
    duration_ms = ({end} - {start}) / 1000000.0,
    conversation_id = COALESCE(traces.conversation_id, excluded.conversation_id),
    root_agent = CASE WHEN {earlier_agent} THEN excluded.root_agent ELSE traces.root_agent END,
    root_agent_start_ns = CASE WHEN {earlier_agent}
        THEN excluded.root_agent_start_ns ELSE traces.root_agent_start_ns END,
    span_count = traces.span_count + excluded.span_count,
    error_count = traces.error_count + excluded.error_count,
    input_tokens = traces.input_tokens + excluded.input_tokens,
    output_tokens = traces.output_tokens + excluded.output_tokens,
    total_tokens = traces.total_tokens + excluded.total_tokens,
    unpriced_calls = traces.unpriced_calls + excluded.unpriced_calls,
    cost_usd = CASE WHEN traces.unpriced_calls + excluded.unpriced_calls > 0 THEN NULL
        ELSE traces.cost_usd + excluded.cost_usd END,
    service = COALESCE(traces.service, excluded.service),
    updated_ns = excluded.updated_ns
""")


class _Share:
    """One trace's part of a batch."""

    __slots__ = (
        "agent", "agent_start", "conversation", "cost", "end", "errors", "first_name",
        "input", "output", "root_failed", "root_id", "root_name", "root_workflow", "service",
        "spans",
        "start", "unpriced", "workflow",
    )  # fmt: skip

    def __init__(self, row: Sequence[Any]):
        self.start, self.end, self.first_name = row[START], row[END], row[NAME]
        self.root_id = self.root_name = self.root_workflow = self.workflow = None
        self.conversation = self.agent = self.agent_start = self.service = None
        self.spans = self.errors = self.input = self.output = self.unpriced = 0
        self.root_failed = False
        self.cost = 0.0

    def add(self, row: Sequence[Any]) -> None:
        self.spans += 1
        if row[START] < self.start:
            self.start, self.first_name = row[START], row[NAME]
        self.end = max(self.end, row[END])
        if row[STATUS] == "ERROR":
            self.errors += 1
        if row[IS_ROOT]:
            self.root_id, self.root_name = row[SPAN_ID], row[NAME]
            self.root_workflow = row[WORKFLOW]
            self.root_failed = row[STATUS] == "ERROR"
        self.workflow = self.workflow or row[WORKFLOW]
        self.conversation = self.conversation or row[CONVERSATION]
        self.service = self.service or row[SERVICE]
        operation = row[OPERATION]
        if operation == semconv.OP_CHAT:
            self.input += row[INPUT_TOKENS] or 0
            self.output += row[OUTPUT_TOKENS] or 0
            if row[COST] is None:
                self.unpriced += 1
            else:
                self.cost += row[COST]
        elif operation == semconv.OP_INVOKE_AGENT and (
            self.agent_start is None or row[START] < self.agent_start
        ):
            self.agent, self.agent_start = row[AGENT], row[START]

    def upsert_row(self, trace_seq: int, trace_id: str, now_ns: int) -> tuple[Any, ...]:
        has_root = self.root_id is not None
        return (
            trace_seq,
            trace_id,
            self.root_id,
            self.root_name if has_root else self.first_name,
            self.root_workflow or self.workflow,
            # the run's outcome, which its root span records; failed spans are counted apart
            "error" if self.root_failed else "ok",
            self.start,
            self.end,
            (self.end - self.start) / 1e6,
            self.conversation,
            self.agent,
            self.agent_start,
            self.spans,
            self.errors,
            self.input,
            self.output,
            self.input + self.output,
            None if self.unpriced else self.cost,
            self.unpriced,
            self.service,
            now_ns,
        )


def trace_shares(
    new_rows: Sequence[Sequence[Any]], trace_ids: Mapping[int, str]
) -> list[tuple[Any, ...]]:
    """Upsert rows (see :func:`trace_upsert_sql`) for the traces of newly stored spans;
    ``trace_ids`` maps each ``trace_seq`` to its trace id."""
    shares: dict[int, _Share] = {}
    for row in new_rows:
        share = shares.get(row[SEQ])
        if share is None:
            share = shares[row[SEQ]] = _Share(row)
        share.add(row)
    now_ns = time.time_ns()
    return [shares[seq].upsert_row(seq, trace_ids[seq], now_ns) for seq in sorted(shares)]
