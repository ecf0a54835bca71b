"""Reading a store changes nothing, and writing stays out of other applications' tables;
the query API's name matching, id prefixes, counts and paging. SQLite and PostgreSQL alike."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from agentel.store import (
    SCHEMA_VERSION,
    StoreOpenError,
    TraceStore,
    open_store,
)
from agentel.store import schema as store_schema
from store_support import (  # noqa: F401
    BASE_NS,
    ENV_TEST_POSTGRES,
    MS,
    TraceBuilder,
    drop_schema,
    postgres_problem,
    store_url,
    support_run,
)


@pytest.fixture
def store(store_url: str) -> Iterator[TraceStore]:  # noqa: F811
    with open_store(store_url) as opened:
        yield opened


def test_agent_model_and_tool_names_match_in_any_case(store: TraceStore) -> None:
    run = support_run(seed=1)  # agents Triage and Billing, model gpt-4o, tool lookup_order
    store.write_spans(run.spans)
    for filters in ({"agent": "billing"}, {"agent": "BILLING"}, {"model": "GPT-4o"},
                    {"tool": "Lookup_Order"}):  # fmt: skip
        assert [t.trace_id for t in store.get_traces(**filters)] == [run.trace_hex], filters
    assert store.get_traces(agent="bill") == []  # the whole name, not a part of it


def test_an_ambiguous_prefix_is_told_apart_from_a_missing_one(store: TraceStore) -> None:
    runs = [support_run(seed=seed, start_ns=BASE_NS + seed * MS) for seed in range(40)]
    for run in runs:
        store.write_spans(run.spans)
    ids = sorted(run.trace_hex for run in runs)
    shared = next(a[:1] for a, b in pairwise(ids) if a[0] == b[0])
    assert len(store.trace_ids_starting(shared)) >= 2
    assert store.resolve_trace_id(shared) is None
    assert store.trace_ids_starting(ids[0]) == [ids[0]]
    assert store.trace_ids_starting("g") == []
    assert store.resolve_trace_id(ids[0][:20].upper()) == ids[0]


def test_count_and_paging_say_how_many_there_are(store: TraceStore) -> None:
    for seed in range(60):
        store.write_spans(support_run(seed=seed, start_ns=BASE_NS + seed * MS).spans)
    assert len(store.get_traces()) == 50  # the documented default page
    assert len(store.get_traces(limit=None)) == 60
    assert store.count_traces() == 60
    assert store.count_traces(until=BASE_NS + 10 * MS) == 10
    assert store.count_traces(agent="billing") == 60
    assert len(store.get_traces(limit=None, offset=55)) == 5


def _make_v3(url: str) -> None:
    """Turn a current store back into a schema v3 one, as an older agentel left it: trace
    status was then "a span failed"."""
    with open_store(url) as store:
        dialect = store.dialect
        with store._transaction() as cursor:
            cursor.execute("DROP INDEX trace_names_lower")
            if dialect.name == "postgres":
                cursor.execute("DROP STATISTICS trace_names_kind_lower_name")
            cursor.execute(
                dialect.sql(f"DELETE FROM {store_schema.VERSION_TABLE} WHERE version = ?"), (4,)
            )
            cursor.execute("UPDATE traces SET status = CASE WHEN error_count > 0 "
                           "THEN 'error' ELSE 'ok' END")  # fmt: skip


def test_reading_an_older_store_changes_nothing_and_says_how_to_upgrade(
    store_url: str,  # noqa: F811
) -> None:
    run = TraceBuilder(seed=5)
    run.tool(run.agent("Triage"), "lookup_order", "Triage", error="builtins.KeyError")
    run.finish()
    with open_store(store_url) as store:
        store.write_spans(run.spans)
    _make_v3(store_url)
    with pytest.raises(StoreOpenError, match=r"schema v3 .* `agentel migrate`"):
        open_store(store_url, read_only=True)
    with pytest.raises(StoreOpenError, match="schema v3"):  # still v3: reading did not upgrade
        open_store(store_url, read_only=True)
    with open_store(store_url) as store:  # a writer upgrades it
        assert store.schema_version == SCHEMA_VERSION
        [trace] = store.get_traces(agent="TRIAGE")
        assert (trace.status, trace.error_count) == ("ok", 1)  # the run recovered
    with open_store(store_url, read_only=True) as reader:
        assert reader.counts() == (1, 3)
        with pytest.raises(Exception, match=r"(?i)read-only|readonly"):
            reader.write_spans(support_run(seed=6).spans)


# --- SQLite files --------------------------------------------------------------------------------


def test_reading_never_creates_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "sub" / "none.db"
    with pytest.raises(StoreOpenError, match="no trace store at"):
        open_store(str(missing), read_only=True)
    assert not missing.exists() and not missing.parent.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(StoreOpenError, match="not an agentel trace store"):
        open_store(str(empty), read_only=True)
    assert empty.stat().st_size == 0


def _app_database(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('alice')")
    conn.close()


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    finally:
        conn.close()


def test_agentel_tables_go_into_another_apps_sqlite_file_only_when_asked(tmp_path: Path) -> None:
    app = tmp_path / "app.db"
    _app_database(app)
    for read_only in (True, False):
        with pytest.raises(
            StoreOpenError, match=r"holds other tables \(customers\)|not an agentel"
        ):
            open_store(str(app), read_only=read_only)
    assert _tables(app) == {"customers"}
    with pytest.raises(StoreOpenError, match=r"\?shared=true"):
        open_store(str(app))
    with open_store(f"sqlite:///{app}?shared=true") as store:
        store.write_spans(support_run(seed=7).spans)
    assert {"customers", "traces", "spans"} <= _tables(app)
    with open_store(str(app), read_only=True) as store:  # now it is a store: readable as is
        assert store.counts() == (1, 8)


# --- PostgreSQL: another application's schema ------------------------------------------------


@pytest.fixture
def app_schema_url() -> Iterator[str]:
    """A URL whose default schema (search_path) holds an application's table, no agentel."""
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    import os

    import psycopg

    base = os.environ[ENV_TEST_POSTGRES]
    name = f"cli_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
        conn.execute(f"CREATE TABLE {name}.customers (id int)")
    try:
        yield f"{base}?options=-csearch_path%3D{name}", name
    finally:
        drop_schema(f"{base}?schema={name}")


def test_postgres_refuses_another_apps_schema_unless_asked(app_schema_url) -> None:
    url, _ = app_schema_url
    with pytest.raises(StoreOpenError, match=r"holds other tables \(customers\).*\?schema="):
        open_store(url)
    with pytest.raises(StoreOpenError, match="not an agentel trace store"):
        open_store(url, read_only=True)
    with open_store(url + "&shared=true") as store:
        store.write_spans(support_run(seed=8).spans)
    with open_store(url, read_only=True) as store:
        assert store.counts() == (1, 8)
