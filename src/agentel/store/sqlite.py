"""The embedded store: one SQLite file, no server, safe for several writing processes.

WAL lets readers (``agentel tail``) read while a writer writes; every write transaction
starts with ``BEGIN IMMEDIATE``, so concurrent writers queue on the busy timeout instead of
failing halfway. ``synchronous=NORMAL`` is WAL's usual setting: a power cut may lose the
last batches, never corrupt the file.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agentel.store import schema
from agentel.store.base import SPAN_INSERT, TraceStore

BUSY_TIMEOUT_SECONDS = 30.0


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

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _lock_traces(self, cursor: Any, trace_ids: Sequence[str]) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already holds the database's one write lock."""

    def _allocate_seqs(self, cursor: Any, count: int) -> list[int]:
        """Numbers after the highest in use; the write lock keeps them to this writer."""
        cursor.execute("SELECT COALESCE(MAX(trace_seq), 0) FROM traces")
        highest = int(cursor.fetchone()[0])
        return list(range(highest + 1, highest + 1 + count))

    def _insert_spans(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        cursor.executemany(SPAN_INSERT, rows)

    def close(self) -> None:
        with self._lock:
            # SQLite's advice for long-lived connections: refresh planner statistics on close.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA optimize")
            self._conn.close()
