"""The ``sqlite`` and ``postgres`` exporter names write into agentel's trace store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import agentel
from agentel.settings import SettingError
from agentel.store import open_store
from pipeline_helpers import SAMPLE_SPANS, clean_pipeline, emit_sample_trace
from store_support import drop_schema, postgres_url


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


def test_postgres_exporter_writes_the_trace() -> None:
    url = postgres_url()  # a schema of its own, so only this test's rows are in it
    try:
        agentel.setup("postgres", db_url=url, schedule_delay=0.05, instrument=False)
        emit_sample_trace()
        assert agentel.flush(5000)
        _assert_only_the_sample_trace_is_in(url)
    finally:
        agentel.shutdown()
        drop_schema(url)
