"""The Celesto exporter as Celesto sees it: the exact JSON posted to the ingest URL, the
auth header, retries, field caps, and the env switches."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

import agentel
from agentel import semconv as sc
from agentel.export.celesto import CelestoSpanExporter
from agentel.settings import SettingError
from celesto_fake import FakeCelesto
from pipeline_helpers import MESSAGES_IN, MESSAGES_OUT, clean_pipeline, emit_sample_trace

TOKEN = "cel_secret_token_123"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, celesto: FakeCelesto) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)


def _iso(nanos: int | None) -> str:
    assert nanos is not None
    return datetime.fromtimestamp(nanos / 1e9, tz=timezone.utc).isoformat()


def _recorded_sample() -> dict[str, ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    emit_sample_trace(provider)
    return {span.name: span for span in memory.get_finished_spans()}


def _sid(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"span_{span.context.span_id:016x}"


def _item(span: ReadableSpan, trace_id: str, parent: str | None, data: dict) -> dict:
    return {
        "object": "trace.span",
        "span_id": _sid(span),
        "trace_id": trace_id,
        "parent_id": parent,
        "started_at": _iso(span.start_time),
        "ended_at": _iso(span.end_time),
        "span_data": data,
    }


def test_posts_the_exact_celesto_json_with_bearer_auth(
    celesto: FakeCelesto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELESTO_API_KEY", TOKEN)
    monkeypatch.setenv("CELESTO_BASE_URL", celesto.base_url)
    pipeline = agentel.setup(schedule_delay=0.05, instrument=False)
    assert list(pipeline.exporters) == ["celesto"]
    spans = _recorded_sample()
    exporter = pipeline.exporter("celesto")
    assert exporter.export(list(spans.values())) is SpanExportResult.SUCCESS

    assert [post.path for post in celesto.posts] == ["/v1/traces/ingest"]
    headers = celesto.posts[0].headers
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["content-type"] == "application/json"

    workflow = spans["invoke_workflow Weather flow"]
    agent = spans["invoke_agent Forecaster"]
    trace_id = f"trace_{workflow.context.trace_id:032x}"  # type: ignore[union-attr]
    assert celesto.posts[0].json == {
        "data": [
            {
                "object": "trace",
                "id": trace_id,
                "workflow_name": "Weather flow",
                "group_id": "conv-42",
                "metadata": {"user": "ada"},
            },
            _item(
                agent,
                trace_id,
                None,
                {
                    "type": "agent",
                    "name": "Forecaster",
                    "tools": ["get_weather"],
                    "output_type": "text",
                },
            ),
            _item(
                spans["apply_guardrail no_secrets"],
                trace_id,
                _sid(agent),
                {"type": "guardrail", "name": "no_secrets", "triggered": False},
            ),
            _item(
                spans["chat gpt-4o"],
                trace_id,
                _sid(agent),
                {
                    "type": "generation",
                    "model": "gpt-4o-2024-08-06",
                    "input": json.loads(MESSAGES_IN),
                    "output": json.loads(MESSAGES_OUT),
                    "model_config": {"temperature": 0.2},
                    "usage": {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17},
                },
            ),
            _item(
                spans["execute_tool get_weather"],
                trace_id,
                _sid(agent),
                {
                    "type": "function",
                    "name": "get_weather",
                    "input": '{"city": "Paris"}',
                    "output": "Sunny",
                },
            ),
            _item(
                spans["execute_tool transfer_to_poet"],
                trace_id,
                _sid(agent),
                {"type": "handoff", "from_agent": "Forecaster", "to_agent": "Poet"},
            ),
        ]
    }


def test_children_wait_for_their_workflow_and_errors_are_sent(celesto: FakeCelesto) -> None:
    exporter = CelestoSpanExporter(TOKEN, celesto.base_url + "/traces/ingest")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("POST /ask"):  # an outer server span
        for name in ("first", "second"):
            workflow_attributes = {
                sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_WORKFLOW,
                sc.GEN_AI_WORKFLOW_NAME: name,
            }
            with tracer.start_as_current_span(
                f"invoke_workflow {name}", attributes=workflow_attributes
            ):
                tool = tracer.start_span(
                    "execute_tool lookup",
                    attributes={
                        sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
                        sc.GEN_AI_TOOL_NAME: "lookup",
                        sc.ERROR_TYPE: "builtins.KeyError",
                    },
                )
                tool.set_status(Status(StatusCode.ERROR, "KeyError: 'order'"))
                sent_before = len(celesto.posts)
                tool.end()
                assert len(celesto.posts) == sent_before  # the tool waits for its workflow
    traces = [item for item in celesto.items() if item["object"] == "trace"]
    assert [t["workflow_name"] for t in traces] == ["first", "second", "POST /ask"]
    assert len({t["id"] for t in traces}) == 3  # two workflows in one request: two traces
    tools = [item for item in celesto.items() if item.get("span_data", {}).get("name") == "lookup"]
    assert [tool["parent_id"] for tool in tools] == [None, None]
    assert tools[0]["error"] == {
        "message": "KeyError: 'order'",
        "data": {"error_type": "builtins.KeyError"},
    }
    root = celesto.items()[-1]
    assert root["span_data"]["type"] == "custom" and root["span_data"]["name"] == "POST /ask"


def test_retries_408_429_and_5xx_then_succeeds(celesto: FakeCelesto) -> None:
    celesto.statuses = [503, 429, 408]
    exporter = CelestoSpanExporter(TOKEN, celesto.base_url + "/traces/ingest", base_delay=0.01)
    assert exporter.export(list(_recorded_sample().values())) is SpanExportResult.SUCCESS
    assert len(celesto.posts) == 4
    assert celesto.posts[0].json == celesto.posts[3].json


def test_a_4xx_is_not_retried_and_the_token_is_never_logged(
    celesto: FakeCelesto, caplog: pytest.LogCaptureFixture
) -> None:
    celesto.statuses = [401]
    exporter = CelestoSpanExporter(TOKEN, celesto.base_url + "/traces/ingest", base_delay=0.01)
    down = CelestoSpanExporter(TOKEN, "http://127.0.0.1:9/v1/traces/ingest", base_delay=0.01)
    with caplog.at_level(logging.DEBUG):
        assert exporter.export(list(_recorded_sample().values())) is SpanExportResult.FAILURE
        assert down.export(list(_recorded_sample().values())) is SpanExportResult.FAILURE
    assert len(celesto.posts) == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "agentel.export.celesto"]
    # what went wrong, for each: the refusal with its status, the network error by its kind
    assert logged[0] == "Celesto rejected a trace batch: HTTP 401"
    assert "Celesto ingest unreachable: URLError" in logged[1:]
    assert logged[-1].startswith("Celesto trace batch not delivered after ")
    assert TOKEN not in caplog.text  # ...without the key
    assert TOKEN not in repr(exporter)


def test_each_field_is_capped_at_100_kb(celesto: FakeCelesto) -> None:
    exporter = CelestoSpanExporter(TOKEN, celesto.base_url + "/traces/ingest")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    attributes = {
        sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
        sc.GEN_AI_TOOL_NAME: "dump",
        sc.GEN_AI_TOOL_CALL_RESULT: "é" * 300_000,
    }
    with tracer.start_as_current_span("execute_tool dump", attributes=attributes):
        pass
    output = celesto.items()[1]["span_data"]["output"]
    assert output.endswith("... [truncated]")
    assert len(json.dumps(output, ensure_ascii=False).encode()) <= 100_000


def test_celesto_api_key_turns_export_on_unless_disabled(
    celesto: FakeCelesto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELESTO_API_KEY", TOKEN)
    monkeypatch.setenv("CELESTO_DISABLE_AUTO_TRACING", "true")
    assert "celesto" not in agentel.setup(instrument=False).exporters
    agentel.shutdown()

    monkeypatch.setenv("CELESTO_DISABLE_AUTO_TRACING", "sometimes")
    with pytest.raises(SettingError, match=r"^CELESTO_DISABLE_AUTO_TRACING='sometimes'"):
        agentel.setup(instrument=False)


def test_the_default_ingest_url_and_a_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELESTO_API_KEY", TOKEN)
    assert CelestoSpanExporter().endpoint == "https://api.celesto.ai/v1/traces/ingest"
    monkeypatch.delenv("CELESTO_API_KEY")
    with pytest.raises(SettingError, match="CELESTO_API_KEY"):
        CelestoSpanExporter()
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
