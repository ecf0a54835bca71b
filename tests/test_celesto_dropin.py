"""``agentel.celesto``: the Agentor functions, driving a real SDK run into a Celesto fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agents import Runner

import agentel
from agentel.celesto import get_run_config, setup_celesto_tracing
from agentel.settings import SettingError
from celesto_fake import FakeCelesto
from pipeline_helpers import clean_pipeline
from pipeline_scripted_model import weather_agent

TOKEN = "cel_dropin_token"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, celesto: FakeCelesto) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)
    agentel.uninstrument()


def test_get_run_config_groups_and_tags_the_run() -> None:
    config = get_run_config(group_id="conv-7", metadata={"plan": "pro"})
    assert config.group_id == "conv-7"
    assert config.trace_metadata == {"plan": "pro"}
    assert config.trace_include_sensitive_data is True


@pytest.mark.parametrize("capture", ["SPAN_ONLY", None])
def test_setup_celesto_tracing_sends_a_real_run(
    celesto: FakeCelesto, monkeypatch: pytest.MonkeyPatch, capture: str | None
) -> None:
    if capture:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", capture)
    endpoint = celesto.base_url + "/traces/ingest"
    pipeline = setup_celesto_tracing(endpoint=endpoint, token=TOKEN, batch_delay=0.05)
    assert "openai-agents" in pipeline.instrumented
    config = get_run_config(group_id="conv-7", metadata={"plan": "pro"})
    result = Runner.run_sync(weather_agent(), "Weather in Paris?", run_config=config)
    assert result.final_output == "Sunny"
    assert pipeline.force_flush(5000)

    assert {post.headers["authorization"] for post in celesto.posts} == {f"Bearer {TOKEN}"}
    items = celesto.items()
    trace_item = items[0]
    assert trace_item["object"] == "trace"
    assert (trace_item["group_id"], trace_item["metadata"]) == ("conv-7", {"plan": "pro"})
    spans = items[1:]
    assert {span["trace_id"] for span in spans} == {trace_item["id"]}
    kinds = [span["span_data"]["type"] for span in spans]
    assert kinds == ["agent", "generation", "function", "generation"]
    agent, first_call, tool, _ = spans
    assert agent["parent_id"] is None
    assert first_call["parent_id"] == tool["parent_id"] == agent["span_id"]
    assert tool["span_data"]["name"] == "get_weather"
    assert first_call["span_data"]["usage"] == {
        "input_tokens": 10,
        "output_tokens": 4,
        "total_tokens": 14,
    }
    if capture:
        assert tool["span_data"]["output"] == "Sunny in Paris"
        assert first_call["span_data"]["input"][0]["role"] == "user"
    else:  # content only when the user opts in
        assert "output" not in tool["span_data"] or tool["span_data"]["output"] is None
        assert not first_call["span_data"].get("input")


def test_setup_celesto_tracing_without_a_key_names_the_variable() -> None:
    with pytest.raises(SettingError, match="CELESTO_API_KEY"):
        setup_celesto_tracing()


def test_custom_span_data_reaches_celesto(celesto: FakeCelesto) -> None:
    from agents import custom_span, trace

    endpoint = celesto.base_url + "/traces/ingest"
    pipeline = setup_celesto_tracing(endpoint=endpoint, token=TOKEN, batch_delay=0.05)
    with trace("Reranking"), custom_span("rerank", {"candidates": 3, "strategy": "bm25"}):
        pass
    assert pipeline.force_flush(5000)
    custom = [i for i in celesto.items() if i.get("span_data", {}).get("type") == "custom"]
    assert len(custom) == 1
    assert custom[0]["span_data"]["name"] == "rerank"
    assert custom[0]["span_data"]["data"] == {"candidates": 3, "strategy": "bm25"}
