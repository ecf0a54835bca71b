"""Writers: several batches and processes, re-export, schema migration, and outages."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

from agentel import semconv
from agentel.store import SCHEMA_VERSION, SchemaTooNewError, open_store, sqlite_path
from agentel.store import schema as store_schema
from agentel.store.aggregate import trace_shares, upsert_traces
from agentel.store.base import NAMES_INSERT
from agentel.store.exporter import StoreSpanExporter
from agentel.store.pricing import price_table
from agentel.store.rows import SPAN_COLUMNS, RowBuilder, name_rows
from store_support import (  # noqa: F401
    BASE_NS,
    MS,
    TraceBuilder,
    drop_schema,
    postgres_url,
    store_url,
    support_run,
)

TESTS_DIR = Path(__file__).parent


def _writers(url: str, jobs: list[tuple[list[int], str, int]]) -> None:
    """Run one writer process per (seeds, half, spans per batch), all starting together."""
    start_at = time.time() + 1.5  # after every process has imported what it needs
    path = [str(TESTS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import store_support; "
                f"store_support.write_runs({url!r}, {seeds!r}, {half!r}, {size}, {start_at})",
            ],
            env=env,
            stderr=subprocess.PIPE,
        )
        for seeds, half, size in jobs
    ]
    for process in processes:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()


def test_exporter_writes_spans_from_a_tracer_provider(store_url: str) -> None:  # noqa: F811
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(StoreSpanExporter(store_url)))
    tracer = provider.get_tracer("test")
    workflow = {semconv.GEN_AI_OPERATION_NAME: semconv.OP_INVOKE_WORKFLOW}
    agent = {semconv.GEN_AI_OPERATION_NAME: semconv.OP_INVOKE_AGENT, semconv.GEN_AI_AGENT_NAME: "A"}
    with (
        tracer.start_as_current_span("invoke_workflow W", attributes=workflow),
        tracer.start_as_current_span("invoke_agent A", attributes=agent),
    ):
        pass
    provider.shutdown()
    with open_store(store_url) as store:
        [trace] = store.get_traces(agent="A")
        tree = store.get_trace(trace.trace_id)
    assert [r.name for r in tree.roots] == ["invoke_workflow W"]
    assert [c.name for c in tree.roots[0].children] == ["invoke_agent A"]


def test_a_trace_split_over_two_processes_adds_up(store_url: str) -> None:  # noqa: F811
    open_store(store_url).close()  # create the schema once, before the race
    seeds = list(range(100, 112))
    _writers(store_url, [(seeds, "even", 1), (seeds, "odd", 1)])  # one span per transaction
    with open_store(store_url) as store:
        traces = store.get_traces(limit=100)
        assert len(traces) == len(seeds)
        for trace in traces:
            assert trace.complete
            assert (trace.span_count, trace.input_tokens, trace.output_tokens) == (8, 3000, 300)
            assert trace.cost_usd == pytest.approx(0.0035 + 0.000345)
            assert trace.root_agent == "Triage"


def test_concurrent_writers_lose_nothing(store_url: str) -> None:  # noqa: F811
    open_store(store_url).close()
    groups = [list(range(start, start + 40)) for start in (0, 1000, 2000, 3000)]
    _writers(store_url, [(seeds, "all", 8) for seeds in groups])
    with open_store(store_url) as store:
        assert store.counts() == (160, 160 * 8)
        [by_workflow] = store.stats("workflow")
        assert (by_workflow.runs, by_workflow.input_tokens) == (160, 160 * 3000)


def test_re_export_through_the_exporter_is_harmless(store_url: str) -> None:  # noqa: F811
    exporter = StoreSpanExporter(store_url)
    run = support_run(seed=7)
    assert exporter.export(run.spans) is SpanExportResult.SUCCESS
    assert exporter.export(run.spans) is SpanExportResult.SUCCESS
    with open_store(store_url) as store:
        assert store.counts() == (1, 8)
        assert store.get_traces()[0].input_tokens == 3000


# --- migrations --------------------------------------------------------------------------------


def _connect_raw(url: str):
    """A plain DB-API connection to the store's database, and its dialect."""
    path = sqlite_path(url)
    if path is not None:
        return sqlite3.connect(path, isolation_level=None), store_schema.SQLITE
    import psycopg
    from psycopg import sql

    from agentel.store.postgres import split_schema

    conninfo, schema = split_schema(url)
    conn = psycopg.connect(conninfo, autocommit=True)
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    return conn, store_schema.POSTGRES


def _write_first_schema_rows(url: str, run: TraceBuilder, seq: int | None = None) -> None:
    """What an agentel with the first schema wrote for ``run``: spans with their trace id,
    events (``[]`` when none) and resource JSON inline, names and the trace row."""
    conn, dialect = _connect_raw(url)
    cursor = conn.cursor()
    if seq is None:
        seq = 1
        if dialect is store_schema.POSTGRES:
            cursor.execute("SELECT nextval('traces_trace_seq')")
            seq = cursor.fetchone()[0]
    built = RowBuilder(price_table()).rows(run.spans)
    first = [(seq, *row[:-2], row[-2] or "[]", built.resources[row[-1]]) for row in built.spans]
    columns = ("trace_seq", *SPAN_COLUMNS[:-1], "resource")
    cursor.executemany(
        dialect.sql(
            f"INSERT INTO spans ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        ),
        first,
    )
    stored = [(seq, *row[1:]) for row in built.spans]
    cursor.executemany(dialect.sql(NAMES_INSERT), name_rows(stored))
    upsert_traces(cursor, dialect, trace_shares(stored, {seq: run.trace_hex}))
    conn.close()


def test_opening_a_first_schema_store_upgrades_it(store_url: str) -> None:  # noqa: F811
    conn, dialect = _connect_raw(store_url)
    assert store_schema.upgrade(conn.cursor(), dialect, 0, target=1) == 1
    conn.close()
    run = support_run(seed=40, metadata={"user": "alice"})
    _write_first_schema_rows(store_url, run)

    with open_store(store_url) as store:
        assert store.schema_version == SCHEMA_VERSION == 4
        [trace] = store.get_traces(metadata=("user", "alice"))
        assert trace.trace_id == run.trace_hex
        assert trace.metadata == {"user": "alice"}
        assert store.counts() == (1, 8)


def test_opening_a_second_schema_store_moves_resources_and_events(
    store_url: str,  # noqa: F811
) -> None:
    conn, dialect = _connect_raw(store_url)
    assert store_schema.upgrade(conn.cursor(), dialect, 0, target=2) == 2
    conn.close()
    run = TraceBuilder(seed=41)
    agent = run.agent("Triage")
    run.tool(agent, "lookup_order", "Triage", error="builtins.KeyError")
    run.finish()
    _write_first_schema_rows(store_url, run)

    with open_store(store_url) as store:
        assert store.schema_version == SCHEMA_VERSION
        tree = store.get_trace(run.trace_hex)
        assert tree is not None and len(tree.spans) == 3
        assert {span.trace_id for span in tree.spans} == {run.trace_hex}
        assert {span.resource["service.name"] for span in tree.spans} == {"store-tests"}
        [tool] = store.get_spans(status="error")
        assert tool.events[0]["name"] == "exception"
        assert [s.events for s in tree.spans if s.span_id != tool.span_id] == [[], []]
        # new batches go to the new table alongside the moved ones
        store.write_spans(support_run(seed=42).spans)
        assert store.counts() == (2, 11)


def test_a_newer_schema_is_a_clear_error(store_url: str) -> None:  # noqa: F811
    open_store(store_url).close()
    conn, dialect = _connect_raw(store_url)
    conn.cursor().execute(
        dialect.sql(f"INSERT INTO {store_schema.VERSION_TABLE} (version) VALUES (?)"), (99,)
    )
    conn.close()
    with pytest.raises(SchemaTooNewError, match=r"schema version 99.*upgrade agentel"):
        open_store(store_url)


# --- failures ----------------------------------------------------------------------------------


def test_an_unwritable_store_fails_the_batch_without_raising(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    exporter = StoreSpanExporter(str(blocker / "agentel.db"))
    with caplog.at_level(logging.WARNING, logger="agentel.store.exporter"):
        results = [exporter.export(support_run(seed=s).spans) for s in (1, 2, 3)]
    assert results == [SpanExportResult.FAILURE] * 3
    assert (exporter.failed_batches, exporter.failed_spans, exporter.exported_spans) == (3, 24, 0)
    assert len(caplog.records) == 1
    assert "could not write 8 spans" in caplog.records[0].getMessage()


class TcpProxy:
    """Forwards a local port to the database; ``stop`` is an outage, ``start`` the repair."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = 0
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.start()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        assert self._listener is not None
        for s in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept(); close() alone does not
            s.close()
        self._sockets = []


def test_a_postgres_outage_fails_batches_cleanly_and_the_next_batch_reconnects(caplog) -> None:
    direct_url = postgres_url()
    parts = urlsplit(direct_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    proxied = urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))
    exporter = StoreSpanExporter(proxied)
    try:
        assert exporter.export(support_run(seed=1).spans) is SpanExportResult.SUCCESS
        proxy.stop()
        with caplog.at_level(logging.WARNING, logger="agentel.store.exporter"):
            down = [exporter.export(support_run(seed=s).spans) for s in (2, 3)]
            assert down == [SpanExportResult.FAILURE] * 2
            assert (exporter.failed_batches, exporter.failed_spans) == (2, 16)
            assert len(caplog.records) == 1
            proxy.start()
            assert exporter.export(support_run(seed=4).spans) is SpanExportResult.SUCCESS
        assert "writable again" in caplog.records[-1].getMessage()
        with open_store(direct_url) as store:
            assert store.counts() == (2, 16)
    finally:
        exporter.shutdown()
        proxy.stop()
        drop_schema(direct_url)


# --- SQLite's write-ahead log ------------------------------------------------------------------


def _in_the_database_file_alone(path: Path, copy: Path) -> tuple[int, int] | None:
    """(traces, spans) the database file holds without its WAL: what checkpoints copied."""
    shutil.copyfile(path, copy)  # the copy has no -wal beside it
    try:
        with contextlib.closing(sqlite3.connect(copy)) as conn:
            traces = conn.execute("SELECT COUNT(*) FROM traces").fetchone()[0]
            return traces, conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0]
    except sqlite3.DatabaseError:  # copied halfway through a checkpoint, or not yet a table
        return None
    finally:
        for leftover in copy.parent.glob(f"{copy.name}*"):
            leftover.unlink()


def test_sqlite_checkpoints_in_the_background_and_bounds_the_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentel.store import sqlite as sqlite_store

    path = tmp_path / "traces.db"
    wal = Path(f"{path}-wal")
    earlier = set(threading.enumerate())
    store = open_store(f"sqlite:///{path}")
    # Far under the WAL limit the writer never checkpoints: the background thread does,
    # soon after the writes (a deadline, not a promise about each commit).
    for seed in range(10):
        store.write_spans(support_run(seed=seed, start_ns=BASE_NS + seed * MS).spans)
    deadline = time.monotonic() + 30
    while (found := _in_the_database_file_alone(path, tmp_path / "copy.db")) != (10, 80):
        assert time.monotonic() < deadline, f"the database file alone holds {found}"
        time.sleep(0.05)

    # Past the limit the writer truncates the WAL after its commit; one that a checkpoint
    # in progress makes busy is retried by the next commit, so the WAL stays within a few
    # batches (about 60 KiB each) of the limit instead of growing with every batch.
    limit = 64 * 1024
    monkeypatch.setattr(sqlite_store, "WAL_LIMIT_BYTES", limit)
    sizes = []
    for seed in range(10, 40):
        store.write_spans(support_run(seed=seed, start_ns=BASE_NS + seed * MS).spans)
        sizes.append(wal.stat().st_size)
    assert max(sizes) <= 4 * limit, sizes
    assert min(sizes) <= limit, sizes

    checkpointers = [
        t for t in threading.enumerate() if t.name == "agentel-checkpoint" and t not in earlier
    ]
    assert len(checkpointers) == 1
    store.close()
    assert not checkpointers[0].is_alive()
    with open_store(f"sqlite:///{path}") as reader:
        assert reader.counts() == (40, 320)


def test_rows_read_the_sdks_attributes_and_any_other_mapping_alike() -> None:
    """Rows read a finished span's attribute container directly where it is the SDK's own;
    a span carrying a plain dict or another mapping must give the very same row."""
    from types import MappingProxyType

    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT,
                semconv.GEN_AI_REQUEST_MODEL: "gpt-4o",
                semconv.GEN_AI_USAGE_INPUT_TOKENS: 1000,
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 10,
                semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
            }
        )
    (finished,) = memory.get_finished_spans()

    def rebuilt(attributes: object) -> ReadableSpan:
        return ReadableSpan(
            finished.name,
            finished.context,
            finished.parent,
            finished.resource,
            attributes,  # type: ignore[arg-type]
            finished.events,
            kind=finished.kind,
            status=finished.status,
            start_time=finished.start_time,
            end_time=finished.end_time,
            instrumentation_scope=finished.instrumentation_scope,
        )

    builder = RowBuilder(price_table())
    expected = builder.row(finished)
    plain = dict(finished.attributes)
    assert builder.row(rebuilt(plain)) == expected
    assert builder.row(rebuilt(MappingProxyType(plain))) == expected
    row = dict(zip(SPAN_COLUMNS, expected, strict=True))
    assert (row["kind"], row["status"], row["model"]) == ("INTERNAL", "UNSET", "gpt-4o")
    assert row["attributes"].startswith('{"gen_ai.operation.name":"chat"')
    assert '"gen_ai.response.finish_reasons":["stop"]' in row["attributes"]
    assert row["cost_usd"] is not None and row["cost_usd"] > 0
    assert dict(finished.attributes) == plain  # read, never changed


def test_sqlite_stores_rows_of_every_null_pattern_alike_past_its_statement_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite inserts rows grouped by their NULL columns; a batch with more patterns than it
    keeps statements for must store exactly what one with few patterns does."""
    from agentel.store import sqlite as sqlite_store

    def stored(path: Path) -> list[tuple]:
        run = support_run(seed=3)
        with open_store(f"sqlite:///{path}") as store:
            store.write_spans(run.finish())
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT * FROM spans ORDER BY start_ns, span_id").fetchall()

    cached = stored(tmp_path / "cached.db")
    monkeypatch.setattr(sqlite_store, "_MAX_SHAPES", 0)
    uncached = stored(tmp_path / "uncached.db")
    assert uncached == cached
    columns = [
        d[1]
        for d in sqlite3.connect(tmp_path / "cached.db")
        .execute("PRAGMA table_info(spans)")
        .fetchall()
    ]
    by_name = [dict(zip(columns, row, strict=True)) for row in cached]
    patterns = {tuple(value is None for value in row) for row in cached}
    assert len(patterns) >= 3  # workflow, agent, chat and tool spans differ in their NULLs
    chat = next(row for row in by_name if row["operation"] == semconv.OP_CHAT)
    tool = next(row for row in by_name if row["operation"] == semconv.OP_EXECUTE_TOOL)
    assert chat["model"] and chat["input_tokens"] and chat["tool"] is None
    assert tool["tool"] and tool["model"] is None and tool["input_tokens"] is None
