"""The embedded store: one SQLite file, no server, safe for several writing processes.

WAL lets readers (``agentel tail``) read while a writer writes; every write transaction
starts with ``BEGIN IMMEDIATE``, so concurrent writers queue on the busy timeout instead of
failing halfway. ``synchronous=NORMAL`` is WAL's usual setting: a power cut may lose the
last batches, never corrupt the file.

A commit appends the batch's pages to the WAL; copying them into the database file (the
checkpoint, with its fsyncs) would otherwise fall on every few commits and took 40 % of a
batch's time. A writing store checkpoints on a thread of its own instead, which SQLite runs
without the GIL and alongside the writer; should the WAL still grow past
``WAL_LIMIT_BYTES`` (writes that never pause), the writer checkpoints and truncates it
itself.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import repeat
from operator import is_, itemgetter
from pathlib import Path
from typing import Any

from agentel.store import schema
from agentel.store.base import Resolved, T, TraceStore
from agentel.store.rows import STORED_COLUMNS

BUSY_TIMEOUT_SECONDS = 30.0
WAL_LIMIT_BYTES = 64 * 1024 * 1024
TRUNCATE_WAIT_MS = 1000
CHECKPOINT_PAUSE_SECONDS = 0.05  # the least time between background checkpoints


class _Checkpointer:
    """Checkpoints the WAL on its own connection and thread, woken after each commit.

    ``busy`` is held while it checkpoints: SQLite lets one checkpoint run at a time and
    answers any other at once with SQLITE_BUSY, without waiting, so the writer's truncation
    takes this lock first instead of failing whenever it meets a background checkpoint.
    """

    def __init__(self, path: Path):
        self._path = path
        self.busy = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agentel-checkpoint", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._wake.wait()
                if self._stop.is_set():
                    return
                self._wake.clear()
                # PASSIVE: copy what no reader still needs, never wait for anyone.
                with self.busy, contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                if self._stop.wait(CHECKPOINT_PAUSE_SECONDS):
                    return
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()


_NONES = tuple(repeat(None, len(STORED_COLUMNS)))
_MAX_SHAPES = 64  # NULL patterns kept with their statement; agentel's spans have about ten


class _ShapedInsert:
    """Inserts span rows grouped by which columns are NULL, naming only the others.

    Python's ``sqlite3`` binds a ``None`` through its adapter lookup, several times the cost
    of a string or a number, and a span row has nine NULLs on average (a tool span has no
    model, a chat span no tool). Spans of one kind share a pattern, so a batch falls into a
    few groups, each inserted with a statement that leaves its NULL columns to their default.
    """

    def __init__(self) -> None:
        self._shapes: dict[tuple[bool, ...], tuple[str, Callable[[Any], Any]]] = {}

    def _shape(self, nulls: tuple[bool, ...]) -> tuple[str, Callable[[Any], Any]]:
        shape = self._shapes.get(nulls)
        if shape is None:
            kept = [index for index, null in enumerate(nulls) if not null]
            columns = ", ".join(STORED_COLUMNS[index] for index in kept)
            marks = ", ".join("?" for _ in kept)
            pick = itemgetter(*kept)
            shape = (f"INSERT INTO spans ({columns}) VALUES ({marks})", pick)
            if len(self._shapes) < _MAX_SHAPES:
                self._shapes[nulls] = shape
        return shape

    def __call__(self, cursor: sqlite3.Cursor, rows: Iterable[tuple[Any, ...]]) -> None:
        groups: dict[tuple[bool, ...], list[tuple[Any, ...]]] = {}
        for row in rows:
            nulls = tuple(map(is_, row, _NONES))
            group = groups.get(nulls)
            if group is None:
                groups[nulls] = [row]
            else:
                group.append(row)
        for nulls, group in groups.items():
            statement, pick = self._shape(nulls)
            cursor.executemany(statement, list(map(pick, group)))


class SQLiteStore(TraceStore):
    """A trace store in a SQLite file, created (with its folder) on first open."""

    dialect = schema.SQLITE

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
        self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._wal = Path(f"{self.path}-wal")
        self._checkpointer: _Checkpointer | None = None
        self._insert = _ShapedInsert()
        self._version = self._migrate()

    def _table_exists(self, name: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def _migrate(self) -> int:
        cursor = self._conn.cursor()
        exists = self._table_exists(schema.VERSION_TABLE)
        current = schema.read_version(cursor, self.dialect, exists)
        if current == schema.SCHEMA_VERSION:
            return current
        with self._transaction() as cursor:
            # Read again under the write lock: another process may have just upgraded it.
            exists = self._table_exists(schema.VERSION_TABLE)
            current = schema.read_version(cursor, self.dialect, exists)
            return schema.upgrade(cursor, self.dialect, current)

    @property
    def schema_version(self) -> int:
        return self._version

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cursor = self._conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
            self._after_commit()

    def _after_commit(self) -> None:
        """Hand the new WAL pages to the checkpoint thread (started by the first write)."""
        if self._checkpointer is None:
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpointer = _Checkpointer(self.path)
        try:
            oversized = self._wal.stat().st_size > WAL_LIMIT_BYTES
        except OSError:
            oversized = False
        if oversized:  # before waking the checkpointer, which would only be in the way
            self._truncate_wal(self._checkpointer)
        self._checkpointer.wake()

    def _truncate_wal(self, checkpointer: _Checkpointer) -> None:
        """The batch is committed whatever happens here: a checkpoint or reader that keeps
        the WAL busy past a short wait only postpones the truncation to a later batch."""
        if not checkpointer.busy.acquire(timeout=TRUNCATE_WAIT_MS / 1000):
            return
        self._conn.execute(f"PRAGMA busy_timeout = {TRUNCATE_WAIT_MS}")
        try:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            checkpointer.busy.release()
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _resolve_traces(
        self, cursor: Any, trace_ids: Sequence[str], meanwhile: Callable[[], object]
    ) -> Resolved:
        """``BEGIN IMMEDIATE`` already holds the database's one write lock, which also keeps
        new numbers (after the highest in use) to this writer. In-process: ``meanwhile``
        simply goes first."""
        meanwhile()
        marks = ", ".join("?" for _ in trace_ids)
        cursor.execute(
            f"SELECT trace_id, trace_seq FROM traces WHERE trace_id IN ({marks})", trace_ids
        )
        seq_of: dict[str, int] = dict(cursor.fetchall())
        stored: set[tuple[int, str]] = set()
        if seq_of:
            seqs = list(seq_of.values())
            cursor.execute(
                "SELECT trace_seq, span_id FROM spans "
                f"WHERE trace_seq IN ({', '.join('?' for _ in seqs)})",
                seqs,
            )
            stored = set(cursor.fetchall())
        fresh = [trace_id for trace_id in trace_ids if trace_id not in seq_of]
        if not fresh:
            return Resolved(seq_of, stored, set())
        cursor.execute("SELECT COALESCE(MAX(trace_seq), 0) FROM traces")
        highest = int(cursor.fetchone()[0])
        seqs = list(range(highest + 1, highest + 1 + len(fresh)))
        seq_of.update(zip(fresh, seqs, strict=True))
        return Resolved(seq_of, stored, set(seqs))

    def _insert_spans(
        self, cursor: Any, rows: Iterable[tuple[Any, ...]], meanwhile: Callable[[], T]
    ) -> T:
        """In-process: nothing runs alongside, so ``meanwhile`` simply follows."""
        self._insert(cursor, rows)
        return meanwhile()

    def close(self) -> None:
        with self._lock:
            if self._checkpointer is not None:
                self._checkpointer.close()
                self._checkpointer = None
            # SQLite's advice for long-lived connections: refresh planner statistics on close.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA optimize")
            self._conn.close()
