"""Agentor 0.1 and Celesto: the body agentel sends next to the one Agentor sends for the same
run, each run sent once, and the drop-in ``setup_celesto_tracing`` as Agentor's ``tracer=``.

Deliberate differences from Agentor's own body (README, "Celesto"): ids are derived from the
OTel trace and span ids (``span_`` + 16 hex digits, not a random 32), items are sent in start
order (Agentor sends its agent span last), a generation names the model that answered, a
model call that failed keeps its generation span (Agentor drops it), and content (inputs,
outputs, tool arguments and results) is sent only when capture is on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from agentor.config import celesto_config
from agentor.tracer import setup_celesto_tracing as agentor_setup_celesto_tracing
from pydantic import SecretStr

import agentel
from agentel.celesto import AgentorTracer, setup_celesto_tracing
from agentel.export.celesto import CelestoSpanExporter
from agentel.export.pipeline import Pipeline
from agentor_fixtures import MODEL, weather_agent, weather_replies
from celesto_fake import FakeCelesto
from fake_openai import FakeOpenAI, Reply
from pipeline_helpers import clean_pipeline


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)
    agentel.uninstrument()


def _posts_by(celesto: FakeCelesto, token: str) -> list[dict[str, Any]]:
    return [
        item
        for post in celesto.posts
        if post.headers["authorization"] == f"Bearer {token}"
        for item in post.json["data"]
    ]


def _both_senders(celesto: FakeCelesto, fake_openai: FakeOpenAI, **agent_kwargs: Any) -> Any:
    """agentel (token "agentel") and Agentor's own tracer (token "agentor") on one run."""
    url = celesto.base_url + "/traces/ingest"
    pipeline = agentel.setup(
        [CelestoSpanExporter(token="agentel", endpoint=url)],
        schedule_delay=0.05,
        keep_agentor_export=True,
    )
    tracer = agentor_setup_celesto_tracing(url, "agentor")
    return pipeline, weather_agent(fake_openai, tracer=tracer, **agent_kwargs)


def _shape(items: list[dict[str, Any]]) -> dict[str, Any]:
    """What must be the same whoever sent the run: the trace, each span's type and place."""
    trace, spans = items[0], items[1:]
    [agent] = [s for s in spans if s["span_data"]["type"] == "agent"]
    others = sorted((s for s in spans if s is not agent), key=lambda s: s["started_at"])
    return {
        "trace": {k: trace[k] for k in ("object", "workflow_name", "group_id", "metadata")},
        "trace ids": {s["trace_id"] for s in spans} == {trace["id"]},
        "agent": (agent["parent_id"], agent["span_data"]["name"], agent["span_data"]["usage"]),
        "children": [
            (
                s["parent_id"] == agent["span_id"],
                s["span_data"]["type"],
                s["span_data"].get("name"),
                s["span_data"].get("usage"),
                "error" in s,
            )
            for s in others
        ],
    }


def test_agentel_body_matches_agentors_own_for_the_same_run(
    celesto: FakeCelesto, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(weather_replies())
    pipeline, agent = _both_senders(
        celesto, fake_openai, trace_group_id="conv-7", trace_metadata={"plan": "pro"}
    )
    agent.run("Weather in Paris?")
    assert pipeline.force_flush(5000)

    theirs, ours = _posts_by(celesto, "agentor"), _posts_by(celesto, "agentel")
    assert _shape(ours) == _shape(theirs)
    assert _shape(ours)["trace"] == {
        "object": "trace",
        "workflow_name": "Weather",
        "group_id": "conv-7",
        "metadata": {"plan": "pro"},
    }
    assert [c[1] for c in _shape(ours)["children"]] == ["generation", "function", "generation"]
    # the deliberate differences
    assert all(re.fullmatch(r"span_[0-9a-f]{16}", s["span_id"]) for s in ours[1:])
    assert all(re.fullmatch(r"span_[0-9a-f]{32}", s["span_id"]) for s in theirs[1:])
    assert ours[1]["span_data"]["type"] == "agent"
    assert theirs[-1]["span_data"]["type"] == "agent"
    generations = [s for s in ours if s.get("span_data", {}).get("type") == "generation"]
    assert {g["span_data"]["model"] for g in generations} == {f"{MODEL}-2025-01-01"}
    assert all("input" not in g["span_data"] for g in generations)  # content is opt-in
    assert all(
        g["span_data"]["input"] for g in theirs[1:] if g["span_data"]["type"] == "generation"
    )


async def test_a_failed_model_call_keeps_its_generation_unlike_agentors_own(
    celesto: FakeCelesto, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script([Reply(status=500, error_message="upstream broke")])
    pipeline, agent = _both_senders(celesto, fake_openai)
    with pytest.raises(openai.InternalServerError):
        await agent.arun("Weather in Paris?")
    assert pipeline.force_flush(5000)

    theirs, ours = _posts_by(celesto, "agentor"), _posts_by(celesto, "agentel")
    assert [s["span_data"]["type"] for s in theirs[1:]] == ["agent"]
    assert [s["span_data"]["type"] for s in ours[1:]] == ["agent", "generation"]
    agent_span, generation = ours[1:]
    assert "InternalServerError" in theirs[1]["error"]["message"]
    assert agent_span["error"]["data"] == {"error_type": "openai.InternalServerError"}
    assert generation["error"]["data"] == {"error_type": "openai.InternalServerError"}
    assert "upstream broke" in generation["error"]["message"]


def _agentor_auto_tracing(monkeypatch: pytest.MonkeyPatch, celesto: FakeCelesto) -> None:
    """CELESTO_API_KEY as Agentor reads it (its settings are read once, at import)."""
    monkeypatch.setenv("CELESTO_API_KEY", "cel_key")
    monkeypatch.setenv("CELESTO_BASE_URL", celesto.base_url)
    monkeypatch.setattr(celesto_config, "api_key", SecretStr("cel_key"))
    monkeypatch.setattr(celesto_config, "base_url", celesto.base_url)


@pytest.mark.parametrize("keep", [False, True])
def test_each_run_reaches_celesto_once_unless_asked_otherwise(
    celesto: FakeCelesto,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    keep: bool,
) -> None:
    _agentor_auto_tracing(monkeypatch, celesto)
    if keep:
        monkeypatch.setenv("AGENTEL_KEEP_AGENTOR_EXPORT", "true")
    pipeline = agentel.setup(schedule_delay=0.05)  # the key turns agentel's Celesto export on
    assert "agentor" in pipeline.instrumented
    fake_openai.script(weather_replies())
    weather_agent(fake_openai, enable_tracing=True).run("Weather in Paris?")
    assert pipeline.force_flush(5000)

    traces = [item for item in celesto.items() if item["object"] == "trace"]
    assert len(traces) == (2 if keep else 1)
    assert {t["workflow_name"] for t in traces} == {"Weather"}
    span_ids = [item["span_id"] for item in celesto.items() if item["object"] == "trace.span"]
    sent_by_agentel = [i for i in span_ids if re.fullmatch(r"span_[0-9a-f]{16}", i)]
    sent_by_agentor = [i for i in span_ids if re.fullmatch(r"span_[0-9a-f]{32}", i)]
    assert (len(sent_by_agentel), len(sent_by_agentor)) == (4, 4 if keep else 0)


def test_agentors_own_export_is_untouched_when_agentel_does_not_send_to_celesto(
    celesto: FakeCelesto, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    _agentor_auto_tracing(monkeypatch, celesto)
    monkeypatch.setenv("CELESTO_DISABLE_AUTO_TRACING", "true")
    agentel.setup("memory", schedule_delay=0.05)
    fake_openai.script(weather_replies())
    weather_agent(fake_openai, enable_tracing=True).run("Weather in Paris?")
    assert [item["object"] for item in celesto.items()].count("trace") == 1


async def test_setup_celesto_tracing_is_what_agentors_tracer_takes(
    celesto: FakeCelesto, fake_openai: FakeOpenAI
) -> None:
    endpoint = celesto.base_url + "/traces/ingest"
    tracer = setup_celesto_tracing(endpoint=endpoint, token="cel_dropin", batch_delay=0.05)
    assert isinstance(tracer, AgentorTracer)
    assert "agentor" in tracer.instrumented
    fake_openai.script([*weather_replies(), *weather_replies()])
    agent = weather_agent(fake_openai, tracer=tracer, trace_group_id="conv-9")
    assert str(await agent.arun("Weather in Paris?")) == "Sunny"
    assert str(await agent.arun("Weather in Paris?", tracing=False)) == "Sunny"
    assert tracer.force_flush(5000)

    assert {post.headers["authorization"] for post in celesto.posts} == {"Bearer cel_dropin"}
    traces = [item for item in celesto.items() if item["object"] == "trace"]
    assert [(t["workflow_name"], t["group_id"]) for t in traces] == [("Weather", "conv-9")]
    assert len(celesto.items()) == 5


def test_setup_celesto_tracing_returns_the_pipeline_for_agentor_0_0(
    celesto: FakeCelesto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agentel.celesto.agentor_has_own_engine", lambda: False)
    endpoint = celesto.base_url + "/traces/ingest"
    assert isinstance(setup_celesto_tracing(endpoint=endpoint, token="t"), Pipeline)


def test_a_bad_keep_agentor_export_value_is_named_and_tracing_stays_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AGENTEL_KEEP_AGENTOR_EXPORT", "sometimes")
    assert "agentor" in agentel.instrument()
    [message] = [
        r.getMessage() for r in caplog.records if "AGENTEL_KEEP_AGENTOR_EXPORT" in r.message
    ]
    assert message.startswith("agentel: AGENTEL_KEEP_AGENTOR_EXPORT='sometimes' is not a yes/no")
