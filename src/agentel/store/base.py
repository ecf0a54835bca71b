"""The trace store: writing batches of spans and the query API, over any DB-API connection.

The SQLite and PostgreSQL stores differ only in how they connect, lock and bulk-insert; the
queries and the aggregate upkeep live here once, so both databases answer alike.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence, Set
from contextlib import AbstractContextManager
from itertools import chain, islice
from typing import Any, NamedTuple, TypeVar

from opentelemetry.sdk.trace import ReadableSpan

from agentel import semconv
from agentel.store import query
from agentel.store.aggregate import trace_shares, upsert_traces
from agentel.store.model import (
    TRACE_COLUMNS,
    SpanRecord,
    StatsRow,
    TimelineRow,
    TraceSummary,
    TraceTree,
)
from agentel.store.pricing import price_table
from agentel.store.query import SpanFilter, TraceFilter, When
from agentel.store.rows import RowBuilder, name_rows, span_trace_id
from agentel.store.schema import Dialect

NAMES_INSERT = (
    "INSERT INTO trace_names (kind, name, trace_seq) VALUES (?, ?, ?) "
    "ON CONFLICT (kind, name, trace_seq) DO NOTHING"
)
RESOURCE_INSERT = (
    "INSERT INTO resources (resource_id, resource) VALUES (?, ?) "
    "ON CONFLICT (resource_id) DO NOTHING"
)
METADATA_INSERT = (
    "INSERT INTO trace_metadata (trace_seq, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (trace_seq, key) DO UPDATE SET value = excluded.value"
)
T = TypeVar("T")
DEFAULT_PAGE = 50  # traces per page of get_traces unless the caller says otherwise
_UNLIMITED = 2**62  # LIMIT for "all": both databases take a number there

# the trace_seq of a trace, by its id
SEQ_OF = "(SELECT trace_seq FROM traces WHERE trace_id = ?)"


class Resolved(NamedTuple):
    """The batch's traces as the database knows them, under the writers' lock."""

    seq_of: dict[str, int]  # trace id -> trace_seq, for every trace of the batch
    stored: set[tuple[int, str]]  # (trace_seq, span_id) of spans already stored
    fresh_seqs: set[int]  # traces created by this transaction


class TraceStore(ABC):
    """Stored traces: ``write_spans`` from the exporter, ``get_*``/``stats``/``prune`` for you.

    A store is safe to share between threads. Open one with :func:`agentel.store.open_store`.
    """

    dialect: Dialect
    url: str
    # Build each span's row only as the span insert takes it, inside the transaction: worth it
    # where a server inserts the rows already sent while the next ones are built.
    _rows_in_transaction = False
    # How many of those rows to build while the server looks up the batch's traces.
    _rows_during_lookup = 0

    def __init__(self) -> None:
        self._rows = RowBuilder(price_table())
        # resource keys committed by this store: a process has one resource, so after its
        # first batch no batch needs to write one
        self._stored_resources: set[int] = set()

    # --- what each database provides ---------------------------------------------------------

    @abstractmethod
    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read (``?`` placeholders) and return all rows."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """A write transaction; yields a cursor, commits on success, rolls back on error."""

    @abstractmethod
    def _resolve_traces(
        self, cursor: Any, trace_ids: Sequence[str], meanwhile: Callable[[], object]
    ) -> Resolved:
        """Serialise writers of these traces until the transaction ends (so the stored spans
        found, and the aggregate update, see every committed span), and give each trace a
        ``trace_seq``: its stored one, or a new, increasing one. ``meanwhile`` is called once,
        while a database server does the lookup."""

    @abstractmethod
    def _insert_spans(
        self, cursor: Any, rows: Iterable[tuple[Any, ...]], meanwhile: Callable[[], T]
    ) -> T:
        """Insert stored-form span rows (``trace_seq`` first) that are not stored yet, then
        return what ``meanwhile`` returns: work that a database server can overlap with
        storing the rows is done while it does."""

    @property
    @abstractmethod
    def schema_version(self) -> int:
        """The schema version of the open database."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    # --- writing -----------------------------------------------------------------------------

    def write_spans(self, spans: Sequence[ReadableSpan]) -> None:
        """Store a batch of finished spans in one transaction and update their traces.

        Spans already stored are skipped, so sending a batch again changes nothing.
        """
        if not spans:
            return
        if self._rows_in_transaction:
            with self._transaction() as cursor:
                resources = self._write(cursor, spans, None)
        else:
            rows = self._rows.rows(spans).spans
            with self._transaction() as cursor:
                resources = self._write(cursor, spans, rows)
        self._stored_resources.update(resources)

    def _write(
        self, cursor: Any, spans: Sequence[ReadableSpan], built: list[tuple[Any, ...]] | None
    ) -> dict[int, str]:
        """The body of the write transaction, on an open cursor; returns the resources it
        stored or found stored. Rows are ``built`` already, or made as the span insert takes
        them, the first ``_rows_during_lookup`` of them while the server looks up the traces."""
        trace_ids = sorted({span_trace_id(span) for span in spans})
        pending: Iterator[tuple[Any, ...]] = iter(
            built if built is not None else map(self._rows.row, spans)
        )
        early: list[tuple[Any, ...]] = []

        def build_early() -> None:
            if built is None:
                early.extend(islice(pending, self._rows_during_lookup))

        seq_of, stored, fresh_seqs = self._resolve_traces(cursor, trace_ids, build_early)
        trace_id_of = {seq: trace_id for trace_id, seq in seq_of.items()}
        rows: list[tuple[Any, ...]] = []
        new: list[tuple[Any, ...]] = []

        def new_rows() -> Iterator[tuple[Any, ...]]:
            for row in chain(early, pending):
                rows.append(row)
                seq = seq_of[row[0]]
                if (seq, row[1]) not in stored:
                    stored.add((seq, row[1]))  # a span twice in one batch is stored once
                    stored_row = (seq, *row[1:])
                    new.append(stored_row)
                    yield stored_row

        names, shares = self._insert_spans(
            cursor,
            # built rows go as a list: SQLite's executemany takes one faster than a generator
            new_rows() if built is None else list(new_rows()),
            lambda: (name_rows(new), trace_shares(new, trace_id_of)),
        )
        metadata, resources = self._rows.extras(spans, rows)
        if not new:
            return {}  # nothing written: claim no resource as stored
        known = self._stored_resources
        unknown = [item for item in resources.items() if item[0] not in known]
        if unknown:
            cursor.executemany(self.dialect.sql(RESOURCE_INSERT), unknown)
        self._insert_names(cursor, names, fresh_seqs)
        if metadata:
            cursor.executemany(
                self.dialect.sql(METADATA_INSERT),
                [(seq_of[trace_id], key, value) for trace_id, key, value in metadata],
            )
        self._upsert_traces(cursor, shares, fresh_seqs)
        return resources

    def _insert_names(
        self, cursor: Any, names: Sequence[tuple[str, str, int]], fresh_seqs: Set[int]
    ) -> None:
        """Store (kind, name, trace_seq) rows; ``fresh_seqs`` are the traces this transaction
        created, which cannot have names yet."""
        cursor.executemany(self.dialect.sql(NAMES_INSERT), names)

    def _upsert_traces(
        self, cursor: Any, shares: Sequence[tuple[Any, ...]], fresh_seqs: Set[int]
    ) -> None:
        """Merge the batch's trace shares; ``fresh_seqs`` as for :meth:`_insert_names`."""
        upsert_traces(cursor, self.dialect, shares)

    def prune(self, older_than: When) -> int:
        """Delete traces that started before ``older_than``; return how many were deleted."""
        cutoff = query.to_ns(older_than)
        old = "SELECT trace_seq FROM traces WHERE start_ns < ?"
        with self._transaction() as cursor:
            cursor.execute(self.dialect.sql(f"SELECT COUNT(*) FROM ({old}) AS o"), (cutoff,))
            count = int(cursor.fetchone()[0])
            # resources stay: a few rows, shared by traces of every age
            for table in ("spans", "trace_names", "trace_metadata"):
                cursor.execute(
                    self.dialect.sql(f"DELETE FROM {table} WHERE trace_seq IN ({old})"), (cutoff,)
                )
            cursor.execute(self.dialect.sql("DELETE FROM traces WHERE start_ns < ?"), (cutoff,))
        return count

    # --- reading -----------------------------------------------------------------------------

    def get_traces(
        self,
        *,
        since: When | None = None,
        until: When | None = None,
        status: str | None = None,
        workflow: str | None = None,
        agent: str | None = None,
        model: str | None = None,
        tool: str | None = None,
        conversation_id: str | None = None,
        min_duration_ms: float | None = None,
        max_duration_ms: float | None = None,
        min_tokens: int | None = None,
        min_cost: float | None = None,
        metadata: tuple[str, str] | None = None,
        limit: int | None = DEFAULT_PAGE,
        offset: int = 0,
        has_errors: bool | None = None,
    ) -> list[TraceSummary]:
        """Traces matching every given filter, newest first: one page of at most ``limit``
        (50 unless given; ``None`` for all of them), starting after ``offset`` traces.
        :meth:`count_traces` says how many match in all.

        ``status`` is the run's outcome: ``error`` for a run that failed (its root span has
        status ERROR), ``ok`` otherwise. ``has_errors=True`` selects traces with any failed
        span, including a tool error the agent recovered from, which leaves the run ``ok``.
        ``agent``, ``model`` and ``tool`` match any span of the trace, ignoring case;
        ``metadata`` is a (key, value) pair of the workflow's metadata; durations are in
        milliseconds, cost in USD.
        """
        where, params = self._trace_filter(locals()).where()
        rows = self._read(
            query.traces_sql(where), [*params, _UNLIMITED if limit is None else limit, offset]
        )
        return self._with_metadata(rows)

    def count_traces(self, **filters: Any) -> int:
        """How many traces match the filters :meth:`get_traces` takes (not its paging)."""
        where, params = self._trace_filter(filters).where()
        return int(self._read(query.count_sql(where), params)[0][0])

    @staticmethod
    def _trace_filter(arguments: dict[str, Any]) -> TraceFilter:
        names = TraceFilter.__dataclass_fields__
        return TraceFilter(**{k: v for k, v in arguments.items() if k in names})

    def traces_updated_since(self, updated_ns: int, limit: int = 100) -> list[TraceSummary]:
        """Finished traces written or changed after ``updated_ns``, oldest change first."""
        columns = ", ".join(f"t.{c}" for c in TRACE_COLUMNS)
        rows = self._read(
            f"SELECT {columns} FROM traces t WHERE t.updated_ns > ? "
            "AND t.root_span_id IS NOT NULL ORDER BY t.updated_ns LIMIT ?",
            (updated_ns, limit),
        )
        return self._with_metadata(rows)

    def _with_metadata(self, rows: Sequence[Sequence[Any]]) -> list[TraceSummary]:
        if not rows:
            return []
        ids = [row[0] for row in rows]
        found: dict[str, dict[str, str]] = {trace_id: {} for trace_id in ids}
        for trace_id, key, value in self._read(
            "SELECT t.trace_id, m.key, m.value FROM trace_metadata m "
            f"JOIN traces t ON t.trace_seq = m.trace_seq WHERE t.trace_id IN ({_marks(ids)})",
            ids,
        ):
            found[trace_id][key] = value
        return [TraceSummary.from_row(row, found[row[0]]) for row in rows]

    def resolve_trace_id(self, prefix: str) -> str | None:
        """The full id of the one trace whose id starts with ``prefix`` (case-insensitive);
        None when no trace or several do (:meth:`trace_ids_starting` tells which)."""
        found = self.trace_ids_starting(prefix, limit=2)
        return found[0] if len(found) == 1 else None

    def trace_ids_starting(self, prefix: str, limit: int = 10) -> list[str]:
        """Up to ``limit`` full trace ids that start with ``prefix`` (case-insensitive)."""
        prefix = prefix.strip().lower()
        rows = self._read(
            "SELECT trace_id FROM traces WHERE trace_id >= ? AND trace_id < ? "
            "ORDER BY trace_id LIMIT ?",
            (prefix, prefix + "g", limit),
        )
        return [row[0] for row in rows]

    def latest_trace_id(self) -> str | None:
        rows = self._read("SELECT trace_id FROM traces ORDER BY start_ns DESC LIMIT 1")
        return rows[0][0] if rows else None

    def get_summary(self, trace_id: str) -> TraceSummary | None:
        """One trace's list row (a unique id prefix is enough), or None; no spans read."""
        full_id = self.resolve_trace_id(trace_id)
        if full_id is None:
            return None
        rows = self._read(
            f"SELECT {', '.join(TRACE_COLUMNS)} FROM traces WHERE trace_id = ?", (full_id,)
        )
        return self._with_metadata(rows)[0] if rows else None

    def get_trace(self, trace_id: str) -> TraceTree | None:
        """One trace with its spans as a tree, or None if no trace has that id.

        A unique prefix of the id is enough, as in ``agentel show 4bf92f``.
        """
        summary = self.get_summary(trace_id)
        if summary is None:
            return None
        full_id = summary.trace_id
        spans = [
            SpanRecord.from_row(row)
            for row in self._read(
                f"{query.SPAN_SELECT} WHERE s.trace_seq = {SEQ_OF} ORDER BY s.start_ns, s.span_id",
                (full_id,),
            )
        ]
        return TraceTree(summary, _nest(spans), spans)

    def get_spans(
        self,
        *,
        trace_id: str | None = None,
        operation: str | None = None,
        agent: str | None = None,
        model: str | None = None,
        tool: str | None = None,
        status: str | None = None,
        since: When | None = None,
        until: When | None = None,
        min_duration_ms: float | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[SpanRecord]:
        """Spans matching every given filter, newest first (status: OK, ERROR or UNSET)."""
        where, params = SpanFilter(
            trace_id=trace_id,
            operation=operation,
            agent=agent,
            model=model,
            tool=tool,
            status=status,
            since=since,
            until=until,
            min_duration_ms=min_duration_ms,
        ).where()
        rows = self._read(query.spans_sql(where), [*params, limit, offset])
        return [SpanRecord.from_row(row) for row in rows]

    def stats(self, group_by: query.GroupBy = "agent", since: When | None = None) -> list[StatsRow]:
        """Runs, errors, p50/p95 latency, tokens and cost per agent, model, tool,
        conversation or workflow, for runs that started after ``since``."""
        since_ns = query.to_ns(since)
        reads = query.stats_queries(
            group_by, since_ns, self._holds_few(since_ns), self.dialect.name
        )
        results = [self._read(sql, params) for sql, params in reads]
        return query.aggregate_stats(results[0], results[1] if len(results) > 1 else ())

    def _holds_few(self, since_ns: int | None) -> bool:
        """Whether the traces started since ``since_ns`` are a small share of all (two
        counts on the start index)."""
        if since_ns is None:
            return False
        recent = self._read("SELECT COUNT(*) FROM traces WHERE start_ns >= ?", (since_ns,))
        total = self._read("SELECT COUNT(*) FROM traces")
        return int(recent[0][0]) <= query.NARROW_SHARE * int(total[0][0])

    def get_span(self, trace_id: str, span_id: str) -> SpanRecord | None:
        """One span of a trace (full trace id, span id as 16 hex digits), or None."""
        rows = self._read(
            f"{query.SPAN_SELECT} WHERE s.trace_seq = {SEQ_OF} AND s.span_id = ?",
            (trace_id, span_id.lower()),
        )
        return SpanRecord.from_row(rows[0]) if rows else None

    def trace_agents(self, trace_ids: Sequence[str]) -> dict[str, list[str]]:
        """The agents that ran in each trace, in the order they first started."""
        if not trace_ids:
            return {}
        found: dict[str, list[str]] = {trace_id: [] for trace_id in trace_ids}
        for trace_id, agent, _ in self._read(
            "SELECT t.trace_id, s.agent, MIN(s.start_ns) AS first FROM spans s "
            "JOIN traces t ON t.trace_seq = s.trace_seq "
            f"WHERE t.trace_id IN ({_marks(trace_ids)}) AND s.operation = ? "
            "AND s.agent IS NOT NULL GROUP BY t.trace_id, s.agent ORDER BY first",
            [*trace_ids, semconv.OP_INVOKE_AGENT],
        ):
            found[trace_id].append(agent)
        return found

    def names(self, kind: str, limit: int = 500) -> list[str]:
        """Distinct names stored of one kind: ``workflow``, ``agent``, ``model`` or ``tool``,
        in order, at most ``limit``."""
        if kind == "workflow":
            table, column, where = "traces", "workflow", ""
        elif kind in ("agent", "model", "tool"):
            table, column, where = "trace_names", "name", "kind = ? AND "
        else:
            raise ValueError(f"kind={kind!r} is not one of workflow, agent, model, tool")
        params = [kind] if where else []
        rows = self._read(query.distinct_sql(table, column, where), [*params, *params, limit])
        return [row[0] for row in rows]

    def timeline(
        self, since: When, until: When | None = None, buckets: int = 48
    ) -> list[TimelineRow]:
        """Runs, errors, p50/p95 latency, tokens and cost of the traces that started in each
        of ``buckets`` equal slices of [since, until) (until: now), oldest first."""
        since_ns = query.to_ns(since) or 0
        until_ns = query.to_ns(until) if until is not None else time.time_ns()
        bucket_ns = max(1, -(-(until_ns - since_ns) // buckets))
        rows = self._read(query.TIMELINE_SQL, ("error", since_ns, until_ns))
        return query.aggregate_timeline(rows, since_ns, until_ns, bucket_ns)

    def counts(self) -> tuple[int, int]:
        """(traces, spans) stored."""
        traces = self._read("SELECT COUNT(*) FROM traces")[0][0]
        spans = self._read("SELECT COUNT(*) FROM spans")[0][0]
        return int(traces), int(spans)

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _nest(spans: list[SpanRecord]) -> list[SpanRecord]:
    """Attach each span to its parent; spans whose parent is not stored become roots."""
    by_id = {span.span_id: span for span in spans}
    roots = []
    for span in spans:
        parent = by_id.get(span.parent_span_id) if span.parent_span_id else None
        (parent.children if parent is not None else roots).append(span)
    return roots


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)
