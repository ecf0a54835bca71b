"""The shared store: PostgreSQL, for several processes or hosts writing the same traces.

Writers of the same trace take a transaction-scoped advisory lock on it first, in a fixed
order; under that lock a writer sees every committed span of its traces, skips the ones
already stored and ``COPY``s the rest straight into ``spans``, then merges the batch into
the trace aggregates. A lost connection is dropped and opened again on the next call.

A ``schema=NAME`` query parameter in the URL keeps agentel's tables in their own schema of
the application's database (created if missing).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence, Set
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from agentel.settings import ENV_DB, SettingError
from agentel.store import schema
from agentel.store.aggregate import TRACE_UPSERT_COLUMNS, upsert_traces
from agentel.store.base import Resolved, T, TraceStore
from agentel.store.rows import STORED_COLUMNS

try:
    import psycopg
    from psycopg import sql as pgsql
except ImportError:  # pragma: no cover - exercised only without the extra installed
    psycopg = None  # type: ignore[assignment]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_MIGRATION_LOCK = 0x6167656E74656C  # "agentel": one lock id for schema upgrades
CONNECT_TIMEOUT_SECONDS = 5

# Each trace id of a batch with its trace_seq (a new one from the sequence if the trace is not
# stored: COALESCE evaluates nextval only then) and whether it is new, followed by the
# (trace_seq, span_id) of the spans already stored for those traces. The stored spans are
# found through an array rather than a join, which could be planned as a scan of all spans.
_RESOLVE = """
WITH known AS MATERIALIZED (
    SELECT id, t.trace_seq FROM unnest(%s::text[]) AS id LEFT JOIN traces t ON t.trace_id = id
)
SELECT id, COALESCE(trace_seq, nextval('traces_trace_seq')), trace_seq IS NULL, NULL::text
FROM known
UNION ALL
SELECT NULL, trace_seq, false, span_id FROM spans
WHERE trace_seq = ANY(ARRAY(SELECT trace_seq FROM known WHERE trace_seq IS NOT NULL))
"""


def split_schema(url: str) -> tuple[str, str | None]:
    """Take our ``schema=`` parameter out of the URL; libpq would reject it."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    names = [value for key, value in params if key == "schema"]
    rest = [(key, value) for key, value in params if key not in ("schema", "shared")]
    if names and not _IDENTIFIER.match(names[-1]):
        raise SettingError(
            f"{ENV_DB}: schema={names[-1]!r} is not a plain SQL name "
            "(letters, digits and _, not starting with a digit)"
        )
    return urlunsplit(parts._replace(query=urlencode(rest))), (names[-1] if names else None)


def _shared(url: str) -> bool:
    from agentel.store import shared_database

    return shared_database(url)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresStore(TraceStore):
    """A trace store in a PostgreSQL database (``postgresql://user@host/db[?schema=x]``)."""

    dialect = schema.POSTGRES
    _rows_in_transaction = True
    _rows_during_lookup = 256

    def __init__(self, url: str, *, read_only: bool = False):
        if psycopg is None:
            raise SettingError(
                f"{ENV_DB}={_redact(url)} needs the PostgreSQL driver: "
                "pip install 'agentel[postgres]'"
            )
        super().__init__()
        self.url = _redact(url)
        self.read_only = read_only
        self._conninfo, self.schema = split_schema(url)
        self._shared = _shared(url)
        self._lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        self._version = 0
        self._connection()

    # --- connection --------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        conn = psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
        try:
            if self.schema:
                name = pgsql.Identifier(self.schema)
                if not self.read_only:
                    conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
                conn.execute(pgsql.SQL("SET search_path TO {}").format(name))
            if self.read_only:
                conn.execute("SET default_transaction_read_only = on")
                self._version = self._check_readable(conn)
            else:
                self._version = self._migrate(conn)
            # Trace queries read a page of rows; parallel workers only add start-up time.
            conn.execute("SET max_parallel_workers_per_gather = 0")
            # Plan each prepared statement for its parameters and today's table sizes: a
            # generic plan made while a table was small (a sequential scan) would be kept as
            # the table grows to millions of rows.
            conn.execute("SET plan_cache_mode = force_custom_plan")
            # A commit returns before its WAL reaches the disk: a server crash may lose the last
            # few hundred milliseconds of spans (never corrupt anything), which telemetry can
            # afford, and a batch's commit stops waiting on an fsync.
            conn.execute("SET synchronous_commit = off")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _where(self) -> str:
        return self.url.partition("?")[0] + (f" (schema {self.schema})" if self.schema else "")

    def _check_readable(self, conn: psycopg.Connection[Any]) -> int:
        with conn.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (schema.VERSION_TABLE,))
            exists = bool(cursor.fetchone()[0])
            current = schema.read_version(cursor, self.dialect, exists)
        schema.check_readable(current, self._where())
        return current

    def _migrate(self, conn: psycopg.Connection[Any]) -> int:
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (schema.VERSION_TABLE,))
            exists = bool(cursor.fetchone()[0])
            current = schema.read_version(cursor, self.dialect, exists)
            if current == schema.SCHEMA_VERSION:
                return current
            if current == 0 and not self._shared:
                cursor.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
                schema.check_creatable(
                    [name for (name,) in cursor.fetchall()],
                    self._where(),
                    "add ?schema=agentel to the URL to keep agentel's tables in a schema of "
                    "their own, or ?shared=true to put them beside the others",
                )
            return schema.upgrade(cursor, self.dialect, current)

    @contextmanager
    def _using(self) -> Iterator[psycopg.Connection[Any]]:
        """The live connection; dropped on a connection error so the next call reconnects."""
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except (psycopg.OperationalError, psycopg.InterfaceError):
                conn.close()
                self._conn = None
                raise

    @property
    def schema_version(self) -> int:
        return self._version

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- TraceStore --------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        with self._using() as conn, conn.transaction(), conn.cursor() as cursor:
            yield cursor

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._using() as conn, conn.cursor() as cursor:
            cursor.execute(self.dialect.sql(sql), params)
            return cursor.fetchall()

    def _resolve_traces(
        self, cursor: Any, trace_ids: Sequence[str], meanwhile: Callable[[], object]
    ) -> Resolved:
        """Advisory locks on the trace ids, in a fixed order, then one read for the rest, both
        in one pipeline (one round trip). The read runs after the locks are granted, so it
        sees every span committed before. ``meanwhile`` runs once both are sent, while the
        server runs them."""
        ids = list(trace_ids)
        conn = cursor.connection
        with conn.cursor() as resolve:
            with conn.pipeline():
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(h) FROM "
                    "(SELECT DISTINCT hashtextextended(id, 0) AS h FROM unnest(%s::text[]) AS id "
                    "ORDER BY 1) AS locks",
                    (ids,),
                )
                resolve.execute(_RESOLVE, (ids,))
                meanwhile()
            rows = resolve.fetchall()
        seq_of = {trace_id: seq for trace_id, seq, _, _ in rows if trace_id is not None}
        stored = {(seq, span_id) for trace_id, seq, _, span_id in rows if trace_id is None}
        fresh = {seq for trace_id, seq, new, _ in rows if trace_id is not None and new}
        return Resolved(seq_of, stored, fresh)

    def _insert_spans(
        self, cursor: Any, rows: Iterable[tuple[Any, ...]], meanwhile: Callable[[], T]
    ) -> T:
        """COPY the rows as they are made: the server inserts each 32 KB sent while the next
        rows are built. ``meanwhile`` runs once all are sent, before waiting for the end."""
        with cursor.copy(f"COPY spans ({', '.join(STORED_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
            return meanwhile()

    def _insert_names(
        self, cursor: Any, names: Sequence[tuple[str, str, int]], fresh_seqs: Set[int]
    ) -> None:
        """COPY the names of new traces (nothing to conflict with), one array statement for
        the rest: two statements for the whole batch rather than a round trip per name."""
        new = [name for name in names if name[2] in fresh_seqs]
        if new:
            with cursor.copy("COPY trace_names (kind, name, trace_seq) FROM STDIN") as copy:
                for row in new:
                    copy.write_row(row)
        known = [name for name in names if name[2] not in fresh_seqs]
        if not known:
            return
        kinds, values, seqs = (list(column) for column in zip(*known, strict=True))
        cursor.execute(
            "INSERT INTO trace_names (kind, name, trace_seq) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[]) "
            "ON CONFLICT (kind, name, trace_seq) DO NOTHING",
            (kinds, values, seqs),
        )

    def _upsert_traces(
        self, cursor: Any, shares: Sequence[tuple[Any, ...]], fresh_seqs: Set[int]
    ) -> None:
        """COPY the rows of new traces (the trace lock keeps their ids to this writer), and
        merge the shares of traces already stored in one upsert."""
        new = [share for share in shares if share[0] in fresh_seqs]
        if new:
            with cursor.copy(f"COPY traces ({', '.join(TRACE_UPSERT_COLUMNS)}) FROM STDIN") as copy:
                for row in new:
                    copy.write_row(row)
        known = [share for share in shares if share[0] not in fresh_seqs]
        if known:
            upsert_traces(cursor, self.dialect, known)
