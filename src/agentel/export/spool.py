"""The spool: batches a backend could not take, kept on disk until it takes them.

Modelled on the OpenTelemetry Collector's persistent sending queue. Each network exporter
(per destination) has one SQLite file of OTLP-encoded batches (:mod:`spool_codec`):

- one transaction per batch, so a process killed at any instant leaves each batch either
  whole or absent, never torn; WAL with ``synchronous=NORMAL`` survives a killed process
  (a power cut may lose the last few batches, never corrupt the file);
- rows keep their arrival order, so replays go oldest first, and their size is summed
  without walking a directory;
- a replaying process leases the row it is sending (until a deadline, under its pid), so
  two processes sharing a spool never send the same batch at once, and a lease left by a
  killed process is taken over as soon as its pid is gone;
- the file shrinks as rows are deleted (``auto_vacuum``), and a size cap drops the oldest
  batches first, which the caller counts.

One file per batch, renamed into place, was the other candidate; it needs a directory scan
for the order and the size, and a claim protocol of renames between processes, which SQLite
gives in a few lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BUSY_TIMEOUT_MS = 2000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS batches ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, origin TEXT NOT NULL,"
    " spans INTEGER NOT NULL, bytes INTEGER NOT NULL, payload BLOB NOT NULL,"
    " lease_until REAL NOT NULL DEFAULT 0, lease_pid INTEGER NOT NULL DEFAULT 0,"
    " lease_owner TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


def default_dir() -> Path:
    """``$XDG_STATE_HOME/agentel/spool`` (``~/.local/state/agentel/spool``); on Windows
    ``%LOCALAPPDATA%\\agentel\\spool``. State, not cache: nothing here may be purged."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "agentel" / "spool"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "agentel" / "spool"


def file_for(directory: Path, exporter: str, destination: str) -> Path:
    """One file per exporter and destination: a process sending elsewhere never replays it."""
    digest = hashlib.sha256(destination.encode()).hexdigest()[:12]
    return directory / f"{exporter}-{digest}.sqlite"


@dataclass(frozen=True)
class Entry:
    id: int
    origin: str
    spans: int
    payload: bytes


@dataclass(frozen=True)
class Summary:
    path: Path
    exporter: str
    destination: str
    batches: int
    spans: int
    bytes: int
    oldest: float | None  # creation time (epoch seconds) of the oldest batch


# The spools open in this process: a lease under this process's pid whose owner is not
# among them was left by an earlier process that had the same pid (pid 1 in a container).
_OPEN_ORIGINS: set[str] = set()


def _holder_alive(pid: int, owner: str) -> bool:
    if pid == os.getpid():
        return owner in _OPEN_ORIGINS
    return _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


class Spool:
    """One spool file. Thread-safe; every method is one short transaction."""

    def __init__(self, path: Path, exporter: str, destination: str, max_bytes: int) -> None:
        self.path = path
        self.exporter = exporter
        self.destination = destination  # as shown to people: credentials already masked
        self.max_bytes = max_bytes
        # Written in each row this spool object adds: its own batches are told from those
        # an earlier process (or pipeline) left.
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        _OPEN_ORIGINS.add(self.origin)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = self._connect()
        with self._transaction() as cursor:
            for statement in _SCHEMA:
                cursor.execute(statement)
            cursor.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("exporter", exporter), ("destination", destination)],
            )

    @classmethod
    def open_existing(cls, path: Path, max_bytes: int = 0) -> Spool:
        """A spool file found on disk, with the exporter and destination it records."""
        with contextlib.closing(sqlite3.connect(path)) as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        return cls(path, meta.get("exporter", "?"), meta.get("destination", "?"), max_bytes)

    def _connect(self) -> sqlite3.Connection:
        self._pid = os.getpid()
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA auto_vacuum = FULL")  # takes effect on a new file only
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            if self._pid != os.getpid():  # a forked child must not use its parent's connection
                self._conn = self._connect()
            cursor = self._conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def put(self, payload: bytes, spans: int) -> list[tuple[str, int]]:
        """Append a batch; returns the (origin, spans) of older batches dropped to stay under
        the size cap (the new batch itself, if it alone is over the cap)."""
        evicted: list[tuple[str, int]] = []
        with self._transaction() as cursor:
            (total,) = cursor.execute("SELECT COALESCE(SUM(bytes), 0) FROM batches").fetchone()
            if len(payload) > self.max_bytes:
                return [(self.origin, spans)]
            while total + len(payload) > self.max_bytes:
                row = cursor.execute(
                    "SELECT id, origin, spans, bytes FROM batches ORDER BY id LIMIT 1"
                ).fetchone()
                if row is None:
                    break
                cursor.execute("DELETE FROM batches WHERE id = ?", (row[0],))
                evicted.append((row[1], row[2]))
                total -= row[3]
            cursor.execute(
                "INSERT INTO batches (created, origin, spans, bytes, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                (time.time(), self.origin, spans, len(payload), payload),
            )
        return evicted

    def claim(self, lease_seconds: float) -> Entry | None:
        """Lease the oldest batch nobody is sending; None when there is none."""
        now = time.time()
        with self._transaction() as cursor:
            rows = cursor.execute(
                "SELECT id, origin, spans, lease_until, lease_pid, lease_owner FROM batches "
                "ORDER BY id LIMIT 64"
            ).fetchall()
            for row_id, origin, spans, lease_until, lease_pid, lease_owner in rows:
                if lease_until < now or not _holder_alive(lease_pid, lease_owner):
                    cursor.execute(
                        "UPDATE batches SET lease_until = ?, lease_pid = ?, lease_owner = ? "
                        "WHERE id = ?",
                        (now + lease_seconds, os.getpid(), self.origin, row_id),
                    )
                    (payload,) = cursor.execute(
                        "SELECT payload FROM batches WHERE id = ?", (row_id,)
                    ).fetchone()
                    return Entry(row_id, origin, spans, bytes(payload))
        return None

    def done(self, entry: Entry) -> None:
        with self._transaction() as cursor:
            cursor.execute("DELETE FROM batches WHERE id = ?", (entry.id,))

    def release(self, entry: Entry) -> None:
        with self._transaction() as cursor:
            cursor.execute(
                "UPDATE batches SET lease_until = 0, lease_pid = 0 WHERE id = ?", (entry.id,)
            )

    def summary(self) -> Summary:
        with self._lock:
            batches, spans, size, oldest = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(spans), 0), COALESCE(SUM(bytes), 0), MIN(created) "
                "FROM batches"
            ).fetchone()
        return Summary(self.path, self.exporter, self.destination, batches, spans, size, oldest)

    def clear(self) -> tuple[int, int]:
        """Delete every batch: (batches, spans) deleted."""
        with self._transaction() as cursor:
            batches, spans = cursor.execute(
                "SELECT COUNT(*), COALESCE(SUM(spans), 0) FROM batches"
            ).fetchone()
            cursor.execute("DELETE FROM batches")
        return batches, spans

    def close(self) -> None:
        """Give back the leases this spool holds (a send cut short by exit), then close."""
        with contextlib.suppress(sqlite3.Error), self._transaction() as cursor:
            cursor.execute(
                "UPDATE batches SET lease_until = 0, lease_pid = 0 WHERE lease_owner = ?",
                (self.origin,),
            )
        _OPEN_ORIGINS.discard(self.origin)
        with self._lock:
            self._conn.close()


def existing(directory: Path) -> list[Path]:
    """The spool files in ``directory``."""
    return sorted(directory.glob("*.sqlite")) if directory.is_dir() else []
