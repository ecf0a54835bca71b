"""The ``store`` exporter (and its aliases ``sqlite`` and ``postgres``) writes into agentel's
trace store, whichever kind ``AGENTEL_DB`` names."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentel
from agentel.settings import SettingError
from agentel.store import open_store
from pipeline_helpers import SAMPLE_SPANS, clean_pipeline, emit_sample_trace
from store_support import drop_schema, postgres_url, store_url  # noqa: F401


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)


def _assert_only_the_sample_trace_is_in(url: str) -> None:
    """The store holds the one trace just emitted, every span with every attribute."""
    with open_store(url) as store:
        assert store.counts() == (1, len(SAMPLE_SPANS))
        [trace] = store.get_traces()
        tree = store.get_trace(trace.trace_id)
    assert tree is not None
    assert {span.name: span.attributes for span in tree.spans} == {
        name: {key: list(v) if isinstance(v, tuple) else v for key, v in attributes.items()}
        for name, attributes in SAMPLE_SPANS.items()
    }
    assert (trace.workflow, trace.conversation_id, trace.metadata) == (
        "Weather flow",
        "conv-42",
        {"user": "ada"},
    )


def test_sqlite_exporter_writes_the_trace_to_agentel_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "traces.db"
    monkeypatch.setenv("AGENTEL_DB", str(path))
    agentel.setup("sqlite", schedule_delay=0.05, instrument=False)
    emit_sample_trace()
    assert agentel.flush(5000)
    _assert_only_the_sample_trace_is_in(f"sqlite:///{path}")


def test_postgres_exporter_needs_a_postgres_url(tmp_path: Path) -> None:
    with pytest.raises(SettingError, match="AGENTEL_DB"):
        agentel.setup("postgres", db_url=str(tmp_path / "x.db"), instrument=False)


def test_the_postgres_alias_writes_the_trace() -> None:
    url = postgres_url()  # a private schema: parallel runs and other stores stay apart
    try:
        agentel.setup("postgres", db_url=url, schedule_delay=0.05, instrument=False)
        emit_sample_trace()
        assert agentel.flush(5000)
        _assert_only_the_sample_trace_is_in(url)
    finally:
        agentel.shutdown()
        drop_schema(url)


def test_the_store_exporter_writes_wherever_agentel_db_points(
    store_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same ``setup(exporters=["store"])`` for SQLite and PostgreSQL: moving to
    PostgreSQL is a change of ``AGENTEL_DB`` only."""
    monkeypatch.setenv("AGENTEL_DB", store_url)
    pipeline = agentel.setup(exporters=["store"], schedule_delay=0.05, instrument=False)
    emit_sample_trace()
    assert agentel.flush(5000)
    assert pipeline.undelivered_spans == 0
    _assert_only_the_sample_trace_is_in(store_url)


def test_the_store_exporter_is_named_store_in_agentel_exporters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTEL_DB", str(tmp_path / "t.db"))
    monkeypatch.setenv("AGENTEL_EXPORTERS", "store")
    assert list(agentel.setup(instrument=False).exporters) == ["store"]


def test_the_sqlite_alias_with_a_postgres_url_says_to_name_the_store_exporter() -> None:
    with pytest.raises(SettingError, match="name the store exporter"):
        agentel.setup("sqlite", db_url="postgresql://u@127.0.0.1:1/db", instrument=False)


def test_two_names_for_the_store_are_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTEL_EXPORTERS", "store,sqlite")
    with pytest.raises(SettingError, match=r"^AGENTEL_EXPORTERS: store and sqlite name the same"):
        agentel.setup(instrument=False)


def test_a_missing_postgresql_driver_is_found_at_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if agentel[postgres] were not installed
    monkeypatch.setenv("AGENTEL_DB", "postgresql://u@127.0.0.1:1/db")
    with pytest.raises(SettingError, match=r"agentel\[postgres\]"):
        agentel.setup("store", instrument=False)
    assert agentel.flush() is True  # nothing was left behind
