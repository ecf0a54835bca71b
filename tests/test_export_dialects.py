"""Export-time dialects and the console tree: what Phoenix and a person at a terminal see."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentel
from agentel import semconv as sc
from agentel.export.console import ConsoleTreeExporter
from agentel.export.openinference import OpenInferenceExporter
from otlp_receiver import OTLPReceiver
from pipeline_helpers import MESSAGES_IN, MESSAGES_OUT, clean_pipeline, emit_sample_trace


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, receiver: OTLPReceiver) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)


def _openinference_spans() -> dict[str, ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OpenInferenceExporter(memory)))
    emit_sample_trace(provider)
    return {span.name: span for span in memory.get_finished_spans()}


def test_openinference_repeats_the_genai_values_under_phoenix_names() -> None:
    spans = _openinference_spans()
    chat = spans["chat gpt-4o"].attributes or {}
    assert chat[sc.OI_SPAN_KIND] == "LLM"
    assert chat[sc.OI_LLM_MODEL_NAME] == "gpt-4o-2024-08-06"
    assert chat[sc.OI_LLM_PROVIDER] == "openai"
    assert (chat[sc.OI_LLM_TOKEN_COUNT_PROMPT], chat[sc.OI_LLM_TOKEN_COUNT_COMPLETION]) == (12, 5)
    assert chat[sc.OI_LLM_TOKEN_COUNT_TOTAL] == 17
    assert (chat[sc.OI_INPUT_VALUE], chat[sc.OI_OUTPUT_VALUE]) == (MESSAGES_IN, MESSAGES_OUT)
    assert chat[sc.OI_INPUT_MIME_TYPE] == "application/json"
    assert chat[sc.OI_SESSION_ID] == "conv-42"
    assert chat[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"  # the GenAI attributes stay

    agent = spans["invoke_agent Forecaster"].attributes or {}
    assert (agent[sc.OI_SPAN_KIND], agent[sc.OI_AGENT_NAME]) == ("AGENT", "Forecaster")
    assert (agent[sc.OI_INPUT_VALUE], agent[sc.OI_OUTPUT_VALUE]) == (MESSAGES_IN, MESSAGES_OUT)
    assert sc.OI_LLM_MODEL_NAME not in agent

    tool = spans["execute_tool get_weather"].attributes or {}
    assert (tool[sc.OI_SPAN_KIND], tool[sc.OI_TOOL_NAME]) == ("TOOL", "get_weather")
    assert (tool[sc.OI_INPUT_VALUE], tool[sc.OI_OUTPUT_VALUE]) == ('{"city": "Paris"}', "Sunny")


def test_the_workflow_shows_the_run_input_and_final_output() -> None:
    workflow = _openinference_spans()["invoke_workflow Weather flow"].attributes or {}
    assert workflow[sc.OI_SPAN_KIND] == "CHAIN"
    assert (workflow[sc.OI_INPUT_VALUE], workflow[sc.OI_OUTPUT_VALUE]) == (
        MESSAGES_IN,
        MESSAGES_OUT,
    )
    assert workflow[sc.OI_SESSION_ID] == "conv-42"
    assert json.loads(str(workflow[sc.OI_METADATA])) == {"user": "ada"}


def test_the_dialect_reaches_only_the_otlp_exporter(receiver: OTLPReceiver) -> None:
    pipeline = agentel.setup(
        ["otlp", "memory"],
        otlp="phoenix",
        otlp_endpoint=receiver.url + "/v1/traces",
        schedule_delay=0.05,
        instrument=False,
    )
    emit_sample_trace()
    assert agentel.flush(5000)
    assert all(sc.OI_SPAN_KIND in span.attributes for span in receiver.spans())
    local = pipeline.exporter("memory").get_finished_spans()  # type: ignore[attr-defined]
    assert not any(sc.OI_SPAN_KIND in (span.attributes or {}) for span in local)


def test_the_genai_dialect_can_be_chosen_for_phoenix(receiver: OTLPReceiver) -> None:
    agentel.setup(
        otlp="phoenix",
        dialect="genai",
        otlp_endpoint=receiver.url + "/v1/traces",
        schedule_delay=0.05,
        instrument=False,
    )
    emit_sample_trace()
    assert agentel.flush(5000)
    assert not any(sc.OI_SPAN_KIND in span.attributes for span in receiver.spans())


def test_console_prints_one_readable_tree_per_trace() -> None:
    out = io.StringIO()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleTreeExporter(out)))
    emit_sample_trace(provider)
    assert out.getvalue().count("trace ") == 1  # printed once, when the root ended
    text = re.sub(r"\d+\.\d{3}s", "T", out.getvalue())
    lines = text.splitlines()[1:]
    assert lines == [
        "invoke_workflow Weather flow  T  tokens in=12 out=5",
        "└── invoke_agent Forecaster  T",
        "    ├── apply_guardrail no_secrets  T",
        "    ├── chat gpt-4o  T  model=gpt-4o-2024-08-06  tokens in=12 out=5",
        "    ├── execute_tool get_weather  T",
        "    └── execute_tool transfer_to_poet  T",
    ]


def test_console_is_the_default_when_nothing_is_configured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pipeline = agentel.setup(schedule_delay=0.05, instrument=False)
    assert list(pipeline.exporters) == ["console"]
    emit_sample_trace()
    assert agentel.flush(5000)
    assert "└── invoke_agent Forecaster" in capsys.readouterr().out
