"""An Agentor 0.1 run through ``agentel.setup()``: in agentel's trace store, as ``agentel show``
prints it, and over OTLP to the loopback receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

import agentel
from agentel import semconv as sc
from agentel.store import open_store
from agentor_fixtures import MODEL, weather_agent, weather_replies
from fake_openai import FakeOpenAI, Reply
from otlp_receiver import OTLPReceiver
from pipeline_helpers import clean_pipeline
from test_cli import agentel as agentel_command


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)
    agentel.uninstrument()


@pytest.fixture
def recorded(tmp_path: Path, fake_openai: FakeOpenAI) -> Path:
    """Two Agentor runs in a fresh SQLite store: one answered, then one whose model fails."""
    db = tmp_path / "agentel.db"
    agentel.setup("sqlite", db_url=str(db), schedule_delay=0.05, capture_content=True)
    fake_openai.script([*weather_replies(), Reply(status=500, error_message="upstream broke")])
    agent = weather_agent(fake_openai, trace_group_id="conv-3")
    agent.run("Weather in Paris?")
    with pytest.raises(openai.InternalServerError):
        weather_agent(fake_openai).run("Weather in Oslo?")
    assert agentel.flush(5000)
    agentel.shutdown()
    return db


def test_agentor_run_is_a_trace_in_the_store(recorded: Path) -> None:
    with open_store(str(recorded)) as store:
        summaries = store.get_traces()
        trees = [store.get_trace(summary.trace_id) for summary in summaries]
    by_status = {tree.summary.status: tree for tree in trees if tree is not None}
    answered, failed = by_status["ok"], by_status["error"]
    summary = answered.summary
    assert (summary.name, summary.root_agent, summary.conversation_id) == (
        "invoke_agent Weather",
        "Weather",
        "conv-3",
    )
    assert (summary.span_count, summary.error_count) == (4, 0)
    assert (summary.input_tokens, summary.output_tokens) == (80, 9)
    [root] = answered.roots
    assert root.operation == sc.OP_INVOKE_AGENT
    assert [(c.operation, c.model, c.tool) for c in root.children] == [
        ("chat", MODEL, None),
        ("execute_tool", None, "get_weather"),
        ("chat", MODEL, None),
    ]
    assert root.children[0].cached_tokens == 12
    assert (failed.summary.span_count, failed.summary.error_count) == (2, 2)
    [failed_root] = failed.roots
    assert failed_root.error_type == "openai.InternalServerError"
    assert failed_root.children[0].error_type == "openai.InternalServerError"


def test_agentel_show_prints_an_agentor_run(recorded: Path) -> None:
    shown = agentel_command("show", "--last", db=recorded).stdout  # the failed run
    assert "invoke_agent Weather" in shown and "2 spans, 2 failed" in shown
    assert f"└─ chat {MODEL} ✗ InternalServerError" in shown
    assert "✗ invoke_agent Weather: InternalServerError, from chat" in shown
    assert shown.count("upstream broke") == 1  # said once, where it was raised
    traces = agentel_command("traces", db=recorded).stdout
    assert traces.count("invoke_agent Weather") == 2


def test_agentor_run_reaches_an_otlp_backend(
    receiver: OTLPReceiver, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    pipeline = agentel.setup("otlp", schedule_delay=0.05)
    assert "agentor" in pipeline.instrumented
    fake_openai.script(weather_replies())
    weather_agent(fake_openai, trace_group_id="conv-5").run("Weather in Paris?")
    assert agentel.flush(5000)

    spans = receiver.spans()
    assert sorted(span.name for span in spans) == [
        f"chat {MODEL}",
        f"chat {MODEL}",
        "execute_tool get_weather",
        "invoke_agent Weather",
    ]
    assert len({span.trace_id for span in spans}) == 1
    assert {span.attributes[sc.GEN_AI_CONVERSATION_ID] for span in spans} == {"conv-5"}
    assert pipeline.undelivered_spans == 0
