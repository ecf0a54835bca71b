"""The store's tables, as a numbered list of migrations shared by SQLite and PostgreSQL.

A database records the last migration it has had in ``agentel_schema_version``. Opening an
older database applies the missing migrations in one transaction, so a store written by an
earlier agentel keeps working; opening a newer one stops with :class:`SchemaTooNewError`
instead of guessing at columns it does not know. Column types are written once, with the
few words that differ between the two dialects filled in from :data:`TYPES`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentel import semconv


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer agentel than this one."""


class StoreOpenError(RuntimeError):
    """A database that agentel will not read or write as it stands; the message says why
    and what to do, in one line."""


@dataclass(frozen=True)
class Dialect:
    """What differs between the two databases in the statements we write."""

    name: str
    placeholder: str
    types: dict[str, str]

    def sql(self, statement: str) -> str:
        """Turn a statement written with ``?`` placeholders into this dialect's form.

        Statements here never contain a literal ``?`` or ``%``: every value is a parameter.
        """
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)


SQLITE = Dialect(
    "sqlite",
    "?",
    {
        "int": "INTEGER",
        "real": "REAL",
        "json": "TEXT",
        "bool": "INTEGER",
        "without_rowid": " WITHOUT ROWID",
        "seq_key": "INTEGER PRIMARY KEY",
    },
)
POSTGRES = Dialect(
    "postgres",
    "%s",
    {
        "int": "BIGINT",
        "real": "DOUBLE PRECISION",
        "json": "JSON",
        "bool": "SMALLINT",
        "without_rowid": "",
        "seq_key": "BIGINT PRIMARY KEY",
    },
)

VERSION_TABLE = "agentel_schema_version"

# Migration 1: traces and spans, with an index for each trace filter.
#
# Trace ids are random, so an index that starts with one puts each new span on a random page
# of a large B-tree, and a batch of 512 spans dirties hundreds of pages. Each trace therefore
# gets a ``trace_seq`` number in arrival order, and spans, names and metadata are keyed by it:
# new rows land at the end of their indexes. The trace id is looked up once per trace, in
# ``traces``. The agent, model and tool filters use ``trace_names``: one row per distinct name
# in a trace rather than an index entry per span.
_V1_TABLES = """
CREATE TABLE spans (
    trace_seq {int} NOT NULL,
    span_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    parent_span_id TEXT,
    is_root {bool} NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    start_ns {int} NOT NULL,
    end_ns {int} NOT NULL,
    duration_ms {real} NOT NULL,
    operation TEXT,
    workflow TEXT,
    agent TEXT,
    model TEXT,
    response_model TEXT,
    tool TEXT,
    conversation_id TEXT,
    error_type TEXT,
    input_tokens {int},
    output_tokens {int},
    cached_tokens {int},
    cost_usd {real},
    service TEXT,
    scope TEXT,
    attributes {json} NOT NULL,
    events {json} NOT NULL,
    resource {json} NOT NULL,
    PRIMARY KEY (trace_seq, span_id)
);
CREATE TABLE trace_names (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    trace_seq {int} NOT NULL,
    PRIMARY KEY (kind, name, trace_seq)
){without_rowid};
CREATE TABLE traces (
    trace_seq {seq_key},
    trace_id TEXT NOT NULL UNIQUE,
    root_span_id TEXT,
    name TEXT NOT NULL,
    workflow TEXT,
    status TEXT NOT NULL,
    start_ns {int} NOT NULL,
    end_ns {int} NOT NULL,
    duration_ms {real} NOT NULL,
    conversation_id TEXT,
    root_agent TEXT,
    root_agent_start_ns {int},
    span_count {int} NOT NULL,
    error_count {int} NOT NULL,
    input_tokens {int} NOT NULL,
    output_tokens {int} NOT NULL,
    total_tokens {int} NOT NULL,
    cost_usd {real},
    unpriced_calls {int} NOT NULL,
    service TEXT,
    updated_ns {int} NOT NULL
);
CREATE INDEX traces_start ON traces (start_ns);
CREATE INDEX traces_status ON traces (status, start_ns);
CREATE INDEX traces_workflow ON traces (workflow, start_ns);
CREATE INDEX traces_conversation ON traces (conversation_id, start_ns);
CREATE INDEX traces_duration ON traces (duration_ms);
CREATE INDEX traces_tokens ON traces (total_tokens);
CREATE INDEX traces_cost ON traces (cost_usd);
CREATE INDEX traces_updated ON traces (updated_ns);
"""

# Migration 2: trace metadata (``agentel.metadata.<key>``) as rows, for the key = value filter.
_V2_TABLES = """
CREATE TABLE trace_metadata (
    trace_seq {int} NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (trace_seq, key)
);
CREATE INDEX trace_metadata_key_value ON trace_metadata (key, value, trace_seq);
"""


# Migration 3: leaner span rows, as a batch's commit writes every byte of them twice (WAL
# and table). The resource, the same JSON for every span of a process, moves to its own table
# under a content key; the trace id, already in ``traces``, leaves ``spans``; events are NULL
# for the spans that have none.
_V3_TABLES = """
CREATE TABLE resources (
    resource_id {seq_key},
    resource {json} NOT NULL
);
CREATE TABLE spans_v3 (
    trace_seq {int} NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    is_root {bool} NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    start_ns {int} NOT NULL,
    end_ns {int} NOT NULL,
    duration_ms {real} NOT NULL,
    operation TEXT,
    workflow TEXT,
    agent TEXT,
    model TEXT,
    response_model TEXT,
    tool TEXT,
    conversation_id TEXT,
    error_type TEXT,
    input_tokens {int},
    output_tokens {int},
    cached_tokens {int},
    cost_usd {real},
    service TEXT,
    scope TEXT,
    attributes {json} NOT NULL,
    events {json},
    resource_id {int} NOT NULL,
    PRIMARY KEY (trace_seq, span_id)
);
"""

# the columns both span tables have, in the new table's order
_V3_KEPT = (
    "trace_seq", "span_id", "parent_span_id", "is_root", "name", "kind", "status",
    "status_message", "start_ns", "end_ns", "duration_ms", "operation", "workflow", "agent",
    "model", "response_model", "tool", "conversation_id", "error_type", "input_tokens",
    "output_tokens", "cached_tokens", "cost_usd", "service", "scope", "attributes",
)  # fmt: skip


def resource_id(resource_json: str) -> int:
    """A resource's key: the first 63 bits of the SHA-256 of its JSON.

    Derived from the content, so every process names the same resource alike without asking
    the database, and storing it again is a no-op.
    """
    return int.from_bytes(hashlib.sha256(resource_json.encode()).digest()[:8], "big") >> 1


def _statements(script: str, dialect: Dialect) -> list[str]:
    text = script.format(**dialect.types)
    return [s.strip() for s in text.split(";") if s.strip()]


def _v1(cursor: Any, dialect: Dialect) -> None:
    for statement in _statements(_V1_TABLES, dialect):
        cursor.execute(statement)
    if dialect.name == "postgres":
        cursor.execute("CREATE SEQUENCE traces_trace_seq")
        # Without it the planner multiplies the selectivities of kind and name as if they
        # were unrelated, misjudges how many traces a name has, and picks a plan that reads
        # every trace with that agent instead of walking the newest ones (70 ms -> 1 ms at
        # 1 M spans).
        cursor.execute(
            "CREATE STATISTICS trace_names_kind_name (mcv) ON kind, name FROM trace_names"
        )


def _v2(cursor: Any, dialect: Dialect) -> None:
    """Create the metadata table and fill it from the spans already stored."""
    for statement in _statements(_V2_TABLES, dialect):
        cursor.execute(statement)
    cursor.execute(
        dialect.sql("SELECT trace_seq, attributes FROM spans WHERE operation = ? OR is_root = 1"),
        (semconv.OP_INVOKE_WORKFLOW,),
    )
    rows = [
        (trace_seq, key, value)
        for trace_seq, attributes in cursor.fetchall()
        for key, value in metadata_items(_as_dict(attributes))
    ]
    if rows:
        cursor.executemany(
            dialect.sql(
                "INSERT INTO trace_metadata (trace_seq, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (trace_seq, key) DO NOTHING"
            ),
            rows,
        )


def _v3(cursor: Any, dialect: Dialect) -> None:
    """Move the spans into the leaner table, one distinct resource at a time."""
    for statement in _statements(_V3_TABLES, dialect):
        cursor.execute(statement)
    cursor.execute("SELECT DISTINCT CAST(resource AS TEXT) FROM spans")
    kept = ", ".join(_V3_KEPT)
    for (text,) in cursor.fetchall():
        key = resource_id(text)
        cursor.execute(
            dialect.sql(
                "INSERT INTO resources (resource_id, resource) VALUES (?, ?) "
                "ON CONFLICT (resource_id) DO NOTHING"
            ),
            (key, text),
        )
        cursor.execute(
            dialect.sql(
                f"INSERT INTO spans_v3 ({kept}, events, resource_id) SELECT {kept}, "
                "CASE WHEN CAST(events AS TEXT) = '[]' THEN NULL ELSE events END, ? "
                "FROM spans WHERE CAST(resource AS TEXT) = ?"
            ),
            (key, text),
        )
    cursor.execute("DROP TABLE spans")
    cursor.execute("ALTER TABLE spans_v3 RENAME TO spans")


# Migration 4: one meaning of "error". A trace's ``status`` is the outcome of the run (its
# root span), no longer "some span failed" (a tool error the SDK forgave leaves the run ok;
# ``error_count`` still counts failed spans). And agent, model and tool names match without
# regard to case, through an index on the lower-cased name.
_V4_INDEX = "CREATE INDEX trace_names_lower ON trace_names (kind, lower(name), trace_seq)"


def _v4(cursor: Any, dialect: Dialect) -> None:
    cursor.execute(_V4_INDEX)
    if dialect.name == "postgres":
        # As for migration 1's statistics, on the lower-cased names now matched: without
        # them the planner reads every trace with the model asked for (37 ms -> 0.9 ms for
        # agent + model + since at 200 k spans). Expressions need PostgreSQL 14.
        cursor.execute("SHOW server_version_num")
        if int(cursor.fetchone()[0]) >= 140000:
            cursor.execute(
                "CREATE STATISTICS trace_names_kind_lower_name (mcv) "
                "ON kind, lower(name) FROM trace_names"
            )
    cursor.execute(
        dialect.sql(
            "UPDATE traces SET status = CASE WHEN EXISTS (SELECT 1 FROM spans s "
            "WHERE s.trace_seq = traces.trace_seq AND s.span_id = traces.root_span_id "
            "AND s.status = ?) THEN ? ELSE ? END"
        ),
        ("ERROR", "error", "ok"),
    )


def _as_dict(attributes: str | dict[str, Any]) -> dict[str, Any]:
    return attributes if isinstance(attributes, dict) else json.loads(attributes)


def metadata_items(attributes: dict[str, Any]) -> list[tuple[str, str]]:
    """The ``agentel.metadata.<key>`` entries of a span's attributes, as (key, text)."""
    prefix = semconv.AGENTEL_METADATA_PREFIX
    return [
        (name[len(prefix) :], value if isinstance(value, str) else json.dumps(value))
        for name, value in attributes.items()
        if name.startswith(prefix)
    ]


# The migrations, in order; a database at version N has had the first N of them.
MIGRATIONS: tuple[Callable[[Any, Dialect], None], ...] = (_v1, _v2, _v3, _v4)
SCHEMA_VERSION = len(MIGRATIONS)


def read_version(cursor: Any, dialect: Dialect, table_exists: bool) -> int:
    """The schema version recorded in the database, 0 for a database without our tables."""
    if not table_exists:
        return 0
    cursor.execute(f"SELECT MAX(version) FROM {VERSION_TABLE}")
    row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _too_new(current: int) -> SchemaTooNewError:
    return SchemaTooNewError(
        f"this trace store has schema version {current}, but this agentel knows versions "
        f"up to {SCHEMA_VERSION}; upgrade agentel (pip install -U agentel) to read it"
    )


def check_readable(current: int, where: str) -> None:
    """Stop a reader (which never creates or upgrades) before a store it cannot read."""
    if current == 0:
        raise StoreOpenError(f"{where} is not an agentel trace store (it has no agentel tables)")
    if current > SCHEMA_VERSION:
        raise _too_new(current)
    if current < SCHEMA_VERSION:
        raise StoreOpenError(
            f"the trace store {where} has schema v{current} and this agentel reads "
            f"v{SCHEMA_VERSION}; upgrade it once with `agentel migrate` (reading never "
            "changes a store)"
        )


def check_creatable(other_tables: list[str], where: str, hint: str) -> None:
    """Refuse to add agentel's tables to a database that already holds someone else's."""
    if not other_tables:
        return
    shown = ", ".join(sorted(other_tables)[:3]) + (", ..." if len(other_tables) > 3 else "")
    raise StoreOpenError(
        f"{where} holds other tables ({shown}) and no agentel store: agentel does not add its "
        f"tables to another application's database unless asked; {hint}"
    )


def upgrade(cursor: Any, dialect: Dialect, current: int, target: int = SCHEMA_VERSION) -> int:
    """Apply migrations ``current+1 .. target`` on ``cursor``; the caller owns the transaction."""
    if current > SCHEMA_VERSION:
        raise _too_new(current)
    if current == 0:
        cursor.execute(f"CREATE TABLE {VERSION_TABLE} (version {dialect.types['int']} NOT NULL)")
    for version in range(current + 1, target + 1):
        MIGRATIONS[version - 1](cursor, dialect)
        cursor.execute(dialect.sql(f"INSERT INTO {VERSION_TABLE} (version) VALUES (?)"), (version,))
    return max(current, target)
