"""An Agno app that used ``setup_tracing(db=...)`` moves to agentel in one step:
``agentel.setup(store=db)`` keeps the traces in the database Agno already uses, where the
``agentel`` command reads them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from agno.db.sqlite import SqliteDb

import agentel
from agentel.settings import SettingError
from agentel.store import open_store
from agno_support import CREW_SCRIPT, WEATHER_SCRIPT, crew, weather_agent
from fake_openai import FakeOpenAI, Reply
from pipeline_helpers import clean_pipeline

_SCRIPT = Path(sys.executable).with_name("agentel")
AGENTEL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "agentel.cli"]


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)
    agentel.uninstrument()


def test_setup_with_agnos_sqlite_db_stores_the_trace_in_that_file(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    path = tmp_path / "app.db"
    db = SqliteDb(db_file=str(path))
    agent = weather_agent(fake_openai)
    agent.db = db  # Agno keeps its sessions in the same file
    fake_openai.script([Reply(text="before agentel")])
    agent.run("hi", session_id="s-0")  # the app's tables exist before agentel's
    agentel.setup(store=db, schedule_delay=0.05)
    fake_openai.script(list(WEATHER_SCRIPT))
    output = agent.run("Weather in Paris?", session_id="s-7")
    assert agentel.flush(5000)

    store = open_store(f"sqlite:///{path}")
    try:
        tree = store.get_trace(store.latest_trace_id() or "")
        assert tree is not None
        (root,) = tree.roots
        assert (root.name, root.operation, root.agent) == (
            "invoke_agent forecaster",
            "invoke_agent",
            "forecaster",
        )
        assert [child.name for child in root.children] == [
            "chat gpt-4o",
            "execute_tool get_weather",
            "execute_tool read_station",
            "chat gpt-4o",
        ]
        assert {span.conversation_id for span in tree.spans} == {"s-7"}
        assert (root.input_tokens, root.output_tokens, root.cached_tokens) == (230, 22, 40)
        failed = [span for span in tree.spans if span.status == "ERROR"]
        assert [(s.name, s.error_type) for s in failed] == [
            ("execute_tool read_station", "agno_support.StationOffline")
        ]
    finally:
        store.close()
    # Agno's own tables are still there and in use.
    assert db.get_session(session_id="s-7", session_type=_agent_session()) is not None
    assert output.session_id == "s-7"

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTEL_", "OTEL_"))}
    shown = subprocess.run(
        [*AGENTEL, "show", "--last"],
        env={**env, "AGENTEL_DB": str(path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout
    assert "5 spans, 1 failed" in lines
    assert "conversation s-7" in lines
    for expected in (
        "invoke_agent forecaster",
        "├─ chat gpt-4o",
        "├─ execute_tool get_weather",
        "├─ execute_tool read_station ✗ StationOffline",
        "└─ chat gpt-4o",
        "✗ execute_tool read_station: agno_support.StationOffline",
        'raise StationOffline(f"station {station} is offline")',
    ):
        assert expected in lines, lines


def _agent_session() -> object:
    from agno.db.base import SessionType

    return SessionType.AGENT


def test_a_team_trace_in_the_store_keeps_members_under_the_delegation(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    path = tmp_path / "team.db"
    agentel.setup(store=str(path), schedule_delay=0.05)
    fake_openai.script(list(CREW_SCRIPT))
    crew(fake_openai).run("Which tower is tallest?")
    assert agentel.flush(5000)
    store = open_store(f"sqlite:///{path}")
    try:
        tree = store.get_trace(store.latest_trace_id() or "")
        assert tree is not None
        by_name = {span.name: span for span in tree.spans}
        delegation = by_name["execute_tool delegate_task_to_member"]
        assert by_name["invoke_agent scout"].parent_span_id == delegation.span_id
        assert delegation.parent_span_id == by_name["invoke_agent crew"].span_id
    finally:
        store.close()


def test_a_store_object_that_names_no_database_is_a_clear_error() -> None:
    with pytest.raises(SettingError, match=r"store=object does not name its database"):
        agentel.setup(store=object(), instrument=False)


def test_agnos_postgres_db_names_its_database() -> None:
    from agno.db.postgres import PostgresDb

    from agentel.export.registry import store_url
    from agentel.store import resolve_url

    url = "postgresql+psycopg://ai:secret@db.internal:5532/ai"
    assert resolve_url(store_url(PostgresDb(db_url=url))) == (
        "postgresql://ai:secret@db.internal:5532/ai?shared=true"
    )
    # A database given as an engine only is named by the engine's URL, password included.
    from sqlalchemy import create_engine

    engine = create_engine(url)
    assert resolve_url(store_url(PostgresDb(db_engine=engine))) == (
        "postgresql://ai:secret@db.internal:5532/ai?shared=true"
    )
