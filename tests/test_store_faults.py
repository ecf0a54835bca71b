"""The trace store under faults: a span with values no database can hold, a SQLite file
locked by another process or not a database at all, a PostgreSQL connection killed under the
exporter, a server unreachable and then back. The app sees no exception, every span ends in
one counted outcome, and no good span is lost with a bad one."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentel
from agentel.export.delivery import OUTCOMES, DeliveryStats
from agentel.store import open_store
from agentel.store.exporter import StoreSpanExporter
from pipeline_helpers import SAMPLE_SPANS, clean_pipeline, emit_sample_trace
from store_support import drop_schema, postgres_problem

PER_TRACE = len(SAMPLE_SPANS)
FAST = {"schedule_delay": 0.05, "instrument": False, "metrics": False}


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)


def pg_url() -> Iterator[str]:
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    url = f"{os.environ['AGENTEL_TEST_POSTGRES_URL']}?schema=reliability_{uuid.uuid4().hex[:10]}"
    yield url
    drop_schema(url)


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'traces.db'}"
    else:
        yield from pg_url()


@pytest.fixture
def pg() -> Iterator[str]:
    yield from pg_url()


def settled(stats: DeliveryStats, produced: int) -> None:
    assert stats.produced == produced and stats.pending == 0
    assert sum(getattr(stats, outcome) for outcome in OUTCOMES) == produced, stats


def finished_spans(*attribute_sets: dict[str, object]) -> list:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("faults")
    with tracer.start_as_current_span("run"):
        for index, attributes in enumerate(attribute_sets):
            with tracer.start_as_current_span(f"step {index}", attributes=attributes) as span:
                span.add_event("note", {"text": str(attributes.get("text", ""))})
    return list(memory.get_finished_spans())


def test_unstorable_values_are_replaced_and_the_batch_is_kept(any_store: str) -> None:
    spans = finished_spans(
        {"text": "fine"},
        {"text": "a file called caf\udce9.txt", "agentel.metadata.user": "nul\x00here"},
        {"gen_ai.usage.input_tokens": 2**70, "score": float("nan")},
        {"text": "also fine"},
    )
    exporter = StoreSpanExporter(any_store)
    assert exporter.export_partial(spans) == []
    assert (exporter.exported_spans, exporter.failed_spans) == (len(spans), 0)
    assert exporter.sanitized_spans == 2
    exporter.shutdown()
    with open_store(any_store) as store:
        assert store.counts()[1] == len(spans)
        stored = {span.name: span for span in store.get_spans(limit=10)}
    assert stored["step 1"].attributes["text"] == "a file called caf\ufffd.txt"
    assert stored["step 0"].attributes["text"] == "fine"


def test_a_sqlite_file_locked_by_another_process_costs_no_exception_and_a_bounded_exit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.db"
    open_store(f"sqlite:///{path}").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\nsys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        pipeline = agentel.setup(
            "sqlite", db_url=str(path), export_timeout=0.3, exit_flush_timeout=1.0, **FAST
        )
        for _ in range(3):
            emit_sample_trace()
        started = time.perf_counter()
        pipeline.shutdown()
        assert time.perf_counter() - started < 1.0 + 3.0
        stats = pipeline.delivery["sqlite"]
        settled(stats, 3 * PER_TRACE)
        assert stats.exported == 0 and stats.failed + stats.abandoned == 3 * PER_TRACE
    finally:
        holder.kill()
        holder.wait()
    clean_state()
    pipeline = agentel.setup("sqlite", db_url=str(path), **FAST)  # unlocked: writes again
    emit_sample_trace()
    pipeline.shutdown()
    assert pipeline.delivery["sqlite"].exported == PER_TRACE


def clean_state() -> None:
    from pipeline_helpers import reset_otel_globals

    reset_otel_globals()


def test_a_file_that_is_not_a_database_fails_each_batch_counted(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    pipeline = agentel.setup("sqlite", db_url=str(path), **FAST)
    emit_sample_trace()
    pipeline.force_flush(5000)
    emit_sample_trace()
    pipeline.shutdown()
    stats = pipeline.delivery["sqlite"]
    settled(stats, 2 * PER_TRACE)
    assert stats.failed == 2 * PER_TRACE
    assert path.read_bytes().startswith(b"these are my notes")


def test_a_killed_postgres_connection_is_retried_once_on_a_fresh_one(pg: str) -> None:
    import psycopg

    exporter = StoreSpanExporter(pg)
    assert exporter.export_partial(finished_spans({"text": "first"})) == []
    backend_pid = exporter._store._conn.info.backend_pid  # type: ignore[union-attr]
    admin = os.environ["AGENTEL_TEST_POSTGRES_URL"]
    with psycopg.connect(admin, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (backend_pid,)).fetchone()[0]
    second = finished_spans({"text": "second"}, {"text": "third"})
    assert exporter.export_partial(second) == []
    assert (exporter.failed_spans, exporter.retried_batches) == (0, 1)
    exporter.shutdown()
    with open_store(pg) as store:
        assert store.counts()[1] == 2 + 3


class Proxy:
    """A TCP relay to PostgreSQL that can be taken down (connections refused, open ones
    cut) and brought back on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # shutdown wakes the blocked accept()
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def test_postgres_unreachable_then_back(pg: str) -> None:
    from urllib.parse import urlsplit

    real = urlsplit(pg)
    proxy = Proxy((real.hostname or "127.0.0.1", real.port or 5432))
    proxy.up()
    url = pg.replace(f"{real.hostname}:{real.port}", f"127.0.0.1:{proxy.port}")
    try:
        pipeline = agentel.setup("postgres", db_url=url, export_timeout=5, **FAST)
        emit_sample_trace()
        pipeline.force_flush(10_000)
        proxy.down()
        emit_sample_trace()
        pipeline.force_flush(10_000)
        proxy.up()
        emit_sample_trace()
        pipeline.shutdown(timeout_millis=10_000)
    finally:
        proxy.down()
    stats = pipeline.delivery["postgres"]
    settled(stats, 3 * PER_TRACE)
    assert stats.failed == PER_TRACE and stats.exported == 2 * PER_TRACE
    with open_store(pg) as store:
        assert store.counts()[1] == 2 * PER_TRACE


@contextlib.contextmanager
def _mounted(target: Path, *options: str) -> Iterator[None]:
    """A mount of the test's own (root only); skipped, with the reason, where not allowed."""
    target.mkdir(exist_ok=True)
    done = subprocess.run(["mount", *options, str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip() or done.returncode}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def _fill(directory: Path) -> Path:
    """Take every free byte of the file system ``directory`` is on."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        for chunk in (65536, 4096, 512):  # down to less than one page left
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * chunk)
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="a full disk is made with a small tmpfs (root)")
def test_a_full_disk_costs_no_exception_every_span_is_counted_and_writes_resume(
    tmp_path: Path,
) -> None:
    small = tmp_path / "small"
    with _mounted(small, "-t", "tmpfs", "-o", "size=2m", "tmpfs"):
        url = f"sqlite:///{small / 'traces.db'}"
        pipeline = agentel.setup("sqlite", db_url=url, exit_flush_timeout=2.0, **FAST)
        emit_sample_trace()
        pipeline.force_flush(10_000)
        filler = _fill(small)
        for _ in range(30):
            emit_sample_trace()
        pipeline.force_flush(10_000)
        stats = pipeline.delivery["sqlite"]
        assert stats.exported == PER_TRACE and stats.failed == 30 * PER_TRACE
        filler.unlink()  # room again: the store is not left broken by the failures
        emit_sample_trace()
        pipeline.shutdown()
        stats = pipeline.delivery["sqlite"]
        settled(stats, 32 * PER_TRACE)
        assert stats.exported == 2 * PER_TRACE and stats.failed == 30 * PER_TRACE
        with open_store(url, read_only=True) as store:
            assert store.count_traces() == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="root ignores permissions: a read-only mount")
def test_a_store_on_a_read_only_mount_fails_each_batch_counted_and_the_app_goes_on(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    open_store(f"sqlite:///{source / 'traces.db'}").close()
    mount = tmp_path / "ro"
    with _mounted(mount, "--bind", str(source)):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], check=True)
        with pytest.raises(OSError):
            (mount / "probe").touch()
        pipeline = agentel.setup(
            "sqlite", db_url=str(mount / "traces.db"), exit_flush_timeout=1.0, **FAST
        )
        emit_sample_trace()
        pipeline.force_flush(5000)
        emit_sample_trace()
        started = time.perf_counter()
        pipeline.shutdown()
        assert time.perf_counter() - started < 1.0 + 3.0
        stats = pipeline.delivery["sqlite"]
        settled(stats, 2 * PER_TRACE)
        assert stats.exported == 0 and stats.failed == 2 * PER_TRACE
