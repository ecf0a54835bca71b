"""The ``sqlite`` and ``postgres`` exporter names write into agentel's trace store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentel
from agentel.settings import SettingError
from agentel.store import open_store
from pipeline_helpers import SAMPLE_SPANS, clean_pipeline, emit_sample_trace


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)


def test_sqlite_exporter_writes_the_trace_to_agentel_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "traces.db"
    monkeypatch.setenv("AGENTEL_DB", str(path))
    agentel.setup("sqlite", schedule_delay=0.05, instrument=False)
    emit_sample_trace()
    assert agentel.flush(5000)
    store = open_store(f"sqlite:///{path}")
    try:
        tree = store.get_trace(store.latest_trace_id() or "")
        assert tree is not None
        assert {span.name for span in tree.spans} == set(SAMPLE_SPANS)
    finally:
        store.close()


def test_postgres_exporter_needs_a_postgres_url(tmp_path: Path) -> None:
    with pytest.raises(SettingError, match="AGENTEL_DB"):
        agentel.setup("postgres", db_url=str(tmp_path / "x.db"), instrument=False)


POSTGRES_URL = os.environ.get("AGENTEL_TEST_POSTGRES_URL", "")


@pytest.mark.skipif(not POSTGRES_URL, reason="AGENTEL_TEST_POSTGRES_URL not set")
def test_postgres_exporter_writes_the_trace() -> None:
    url = POSTGRES_URL
    try:
        store = open_store(url)
    except Exception as error:  # no server on this machine
        pytest.skip(f"PostgreSQL not reachable: {error}")
    agentel.setup("postgres", db_url=url, schedule_delay=0.05, instrument=False)
    emit_sample_trace()
    assert agentel.flush(5000)
    try:
        tree = store.get_trace(store.latest_trace_id() or "")
        assert tree is not None
        assert "invoke_workflow Weather flow" in {span.name for span in tree.spans}
    finally:
        store.close()
