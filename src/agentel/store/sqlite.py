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
from urllib.parse import quote

from agentel.store import schema
from agentel.store.base import Resolved, T, TraceStore
from agentel.store.rows import STORED_COLUMNS

BUSY_TIMEOUT_SECONDS = 30.0
WAL_LIMIT_BYTES = 64 * 1024 * 1024
TRUNCATE_WAIT_MS = 1000
CHECKPOINT_PAUSE_SECONDS = 0.05  # the least time between background checkpoints


class _Checkpointer:
    """Checkpoints the WAL on its own connection and thread, woken after each commit."""

    def __init__(self, path: Path):
        self._path = path
        # Held while checkpointing. SQLite answers a checkpoint that meets another one in
        # progress with SQLITE_BUSY at once, without its busy handler, so the writer's
        # truncation takes this first rather than fail whenever the two coincide.
        self.running = threading.Lock()
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
                with self.running, contextlib.suppress(sqlite3.Error):
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
    """A trace store in a SQLite file, created (with its folder) on first open for writing.

    ``read_only=True`` opens an existing store as it is: no file, folder, table or schema
    upgrade is made, so reading works on a read-only folder or mount too.
    """

    dialect = schema.SQLITE

    def __init__(self, path: str | Path, *, read_only: bool = False, shared: bool = False):
        super().__init__()
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.read_only = read_only
        self._shared = shared
        self._lock = threading.RLock()
        self._wal = Path(f"{self.path}-wal")
        self._checkpointer: _Checkpointer | None = None
        self._insert = _ShapedInsert()
        if read_only:
            self._conn = self._connect_read_only()
            current = schema.read_version(
                self._conn.cursor(), self.dialect, self._table_exists(schema.VERSION_TABLE)
            )
            schema.check_readable(current, str(self.path))
            self._version = current
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
        self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._version = self._migrate()

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that never writes. A WAL store needs its ``-shm`` index to be read;
        where that file is missing and cannot be made (a read-only folder or mount), nobody
        can be writing either, so the file is read as immutable."""
        if not self.path.is_file():
            raise schema.StoreOpenError(f"no trace store at {self.path}")
        location = quote(str(self.path.resolve()))
        last: sqlite3.Error | None = None
        for options in ("mode=ro", "mode=ro&immutable=1"):
            conn = sqlite3.connect(
                f"file:{location}?{options}",
                uri=True,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except sqlite3.DatabaseError as exc:
                conn.close()
                if "not a database" in str(exc):
                    raise schema.StoreOpenError(
                        f"{self.path} is not a SQLite database, so not a trace store"
                    ) from None
                last = exc
                continue
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            return conn
        raise schema.StoreOpenError(f"cannot read the trace store {self.path}: {last}")

    def _table_exists(self, name: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def _other_tables(self) -> list[str]:
        rows = self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        return [name for (name,) in rows]

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
            if current == 0 and not self._shared:
                schema.check_creatable(
                    self._other_tables(),
                    str(self.path),
                    "give the store a file of its own (AGENTEL_DB=traces.db), or add "
                    "?shared=true to a sqlite:/// URL to put the tables in this file",
                )
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
        self._checkpointer.wake()
        try:
            oversized = self._wal.stat().st_size > WAL_LIMIT_BYTES
        except OSError:
            return
        if oversized:
            # The batch is committed whatever happens here: a reader that keeps the WAL
            # busy past a short wait only postpones the truncation to a later batch.
            self._conn.execute(f"PRAGMA busy_timeout = {TRUNCATE_WAIT_MS}")
            try:
                with self._checkpointer.running, contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
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
            if not self.read_only:
                # SQLite's advice for long-lived connections: refresh planner statistics.
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA optimize")
            self._conn.close()
