"""Each OTLP preset as its backend receives it: the standard OTLP variables winning over the
preset's defaults, and the attributes Langfuse, MLflow and Phoenix read, from real SDK runs
(scripted model, no network) decoded off the wire by the loopback receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from agents import Agent, RunConfig, Runner, function_tool

import agentel
from agentel import semconv as sc
from agentel.settings import SettingError
from otlp_receiver import OTLPReceiver, ReceivedSpan
from pipeline_helpers import SAMPLE_SPANS, clean_pipeline, emit_sample_trace
from pipeline_scripted_model import ScriptedModel, message, tool_call, weather_agent

FAST = {"schedule_delay": 0.05, "export_timeout": 1.0, "instrument": False}
# What each preset needs to start, and one header it must still send when the standard
# variables move its endpoint.
PRESETS = {
    "phoenix": ({"PHOENIX_API_KEY": "phx"}, "authorization", "Bearer phx"),
    "langfuse": (
        {"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "sk"},
        "authorization",
        "Basic cGs6c2s=",
    ),
    "datadog": ({"DD_API_KEY": "dd-key"}, "dd-api-key", "dd-key"),
    "mlflow": ({"MLFLOW_EXPERIMENT_ID": "12"}, "x-mlflow-experiment-id", "12"),
}


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, receiver: OTLPReceiver) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)
    agentel.uninstrument()


def _set(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _by_name(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {span.name: span for span in spans}


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize(
    ("variable", "path"),
    [
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/collector/v1/traces"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "/v1/traces"),
    ],
)
def test_the_standard_endpoint_variable_wins_over_the_preset_endpoint(
    preset: str,
    variable: str,
    path: str,
    receiver: OTLPReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env, header, value = PRESETS[preset]
    _set(monkeypatch, env)
    url = receiver.url + ("/collector/v1/traces" if variable.endswith("TRACES_ENDPOINT") else "")
    monkeypatch.setenv(variable, url)
    pipeline = agentel.setup(otlp=preset, **FAST)
    emit_sample_trace()
    assert agentel.flush(5000)
    assert {span.name for span in receiver.spans()} == set(SAMPLE_SPANS)
    requests = receiver.trace_requests()
    assert {request.path for request in requests} == {path}
    assert requests[0].headers[header] == value  # the preset's own headers still go along
    assert pipeline.undelivered_spans == 0


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"]
)
def test_the_standard_headers_variable_adds_to_and_overrides_the_preset_headers(
    preset: str, variable: str, receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, header, _ = PRESETS[preset]
    _set(monkeypatch, env)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.url + "/v1/traces")
    monkeypatch.setenv(variable, f"x-team=agents,{header}=from%20env")
    agentel.setup(otlp=preset, **FAST)
    emit_sample_trace()
    assert agentel.flush(5000)
    headers = receiver.trace_requests()[0].headers
    assert headers["x-team"] == "agents"
    assert headers[header] == "from env"


def test_the_otlp_endpoint_argument_wins_over_the_variables(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    agentel.setup(otlp="mlflow", otlp_endpoint=receiver.url + "/v1/traces", **FAST)
    emit_sample_trace()
    assert agentel.flush(5000)
    assert receiver.trace_requests()[0].headers["x-mlflow-experiment-id"] == "0"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "localhost:4318/v1/traces"),
        ("PHOENIX_COLLECTOR_ENDPOINT", "phoenix.internal:6006"),
        ("MLFLOW_TRACKING_URI", "databricks"),
    ],
)
def test_an_endpoint_without_a_scheme_is_rejected_at_setup_naming_the_setting(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    preset = {"PHOENIX_COLLECTOR_ENDPOINT": "phoenix", "MLFLOW_TRACKING_URI": "mlflow"}
    with pytest.raises(SettingError, match=rf"^{variable}=.*http://"):
        agentel.setup("otlp", otlp=preset.get(variable), **FAST)
    assert agentel.flush() is True  # nothing was left behind


def test_the_otlp_endpoint_argument_without_a_scheme_is_rejected() -> None:
    with pytest.raises(SettingError, match=r"^otlp_endpoint='localhost:4318'"):
        agentel.setup("otlp", otlp_endpoint="localhost:4318", **FAST)


# --- Langfuse: sessions, users and the trace's input and output --------------------------


def test_langfuse_gets_session_user_and_trace_io_from_a_real_run(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _set(monkeypatch, PRESETS["langfuse"][0])
    monkeypatch.setenv("LANGFUSE_HOST", receiver.url)
    agentel.setup(otlp="langfuse", capture_content=True, schedule_delay=0.05)
    config = RunConfig(
        workflow_name="Weather", group_id="conv-9", trace_metadata={"user_id": "u-7"}
    )
    Runner.run_sync(weather_agent(), "Weather in Paris?", run_config=config)
    assert agentel.flush(5000)

    spans = _by_name(receiver.spans())
    workflow, agent = spans["invoke_workflow Weather"], spans["invoke_agent Forecaster"]
    for span in (workflow, agent, spans["chat scripted-4o"]):
        assert span.attributes["langfuse.session.id"] == "conv-9", span.name
        assert span.attributes["session.id"] == "conv-9", span.name
    assert workflow.attributes["user.id"] == workflow.attributes["langfuse.user.id"] == "u-7"
    assert workflow.attributes["langfuse.trace.name"] == "Weather"
    assert workflow.attributes["langfuse.trace.metadata.user_id"] == "u-7"
    trace_input = json.loads(workflow.attributes["langfuse.trace.input"])
    assert trace_input == json.loads(agent.attributes[sc.GEN_AI_INPUT_MESSAGES])
    assert "Weather in Paris?" in workflow.attributes["langfuse.trace.input"]
    trace_output = json.loads(workflow.attributes["langfuse.trace.output"])
    assert trace_output[0]["parts"][0]["content"] == "Sunny"
    assert "langfuse.trace.input" not in agent.attributes  # the workflow is the trace's root
    assert sc.OI_SPAN_KIND not in agent.attributes  # GenAI stays the observations' language


def test_langfuse_dialect_can_be_turned_off(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _set(monkeypatch, PRESETS["langfuse"][0])
    monkeypatch.setenv("LANGFUSE_HOST", receiver.url)
    agentel.setup(otlp="langfuse", dialect="genai", **FAST)
    emit_sample_trace()
    assert agentel.flush(5000)
    assert not any("langfuse.session.id" in span.attributes for span in receiver.spans())


# --- MLflow -------------------------------------------------------------------------------


def test_mlflow_preset_posts_to_its_traces_path_with_the_experiment_header(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", receiver.url + "/")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "42")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")  # the distro's default: ignored
    agentel.setup(otlp="mlflow", capture_content=True, schedule_delay=0.05)
    config = RunConfig(workflow_name="Weather", group_id="conv-3")
    Runner.run_sync(weather_agent(), "Weather in Paris?", run_config=config)
    assert agentel.flush(5000)

    request = receiver.trace_requests()[0]
    assert request.path == "/v1/traces"
    assert request.headers["x-mlflow-experiment-id"] == "42"
    assert request.headers["content-type"] == "application/x-protobuf"
    spans = _by_name(receiver.spans())
    kinds = {name: span.attributes[sc.OI_SPAN_KIND] for name, span in spans.items()}
    assert kinds == {
        "invoke_workflow Weather": "CHAIN",
        "invoke_agent Forecaster": "AGENT",
        "chat scripted-4o": "LLM",
        "execute_tool get_weather": "TOOL",
    }
    root = spans["invoke_workflow Weather"]
    assert "Weather in Paris?" in root.attributes[sc.OI_INPUT_VALUE]  # the trace list preview
    assert "Sunny" in root.attributes[sc.OI_OUTPUT_VALUE]
    assert root.attributes[sc.OI_INPUT_MIME_TYPE] == "application/json"
    assert receiver.metric_names() == set()  # MLflow takes traces only


def test_mlflow_shows_guardrails_as_guardrails(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", receiver.url)
    agentel.setup(otlp="mlflow", **FAST)
    emit_sample_trace()
    assert agentel.flush(5000)
    spans = _by_name(receiver.spans())
    assert spans["apply_guardrail no_secrets"].attributes[sc.OI_SPAN_KIND] == "GUARDRAIL"
    assert receiver.trace_requests()[0].headers["x-mlflow-experiment-id"] == "0"


# --- OpenInference: a tool's JSON shown as JSON -------------------------------------------


@function_tool
def lookup_order(order_id: str) -> str:
    """An order, as JSON text (what many tools return)."""
    return json.dumps({"order_id": order_id, "status": "shipped"})


@function_tool
def order_status(order_id: str) -> str:
    """An order's status as plain text."""
    return f"{order_id} has shipped"


def _orders_agent() -> Agent:
    model = ScriptedModel(
        [
            tool_call("lookup_order", '{"order_id": "A1"}'),
            tool_call("order_status", '{"order_id": "A1"}', call_id="call_2"),
            message("Shipped"),
        ]
    )
    return Agent(name="Orders", model=model, tools=[lookup_order, order_status])


def test_openinference_tool_output_is_the_json_itself_not_a_string_of_it(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", receiver.url)
    agentel.setup(otlp="phoenix", capture_content=True, schedule_delay=0.05)
    Runner.run_sync(_orders_agent(), "Where is A1?")
    assert agentel.flush(5000)

    spans = _by_name(receiver.spans())
    lookup = spans["execute_tool lookup_order"].attributes
    assert json.loads(lookup[sc.OI_OUTPUT_VALUE]) == {"order_id": "A1", "status": "shipped"}
    assert lookup[sc.OI_OUTPUT_MIME_TYPE] == "application/json"
    assert json.loads(lookup[sc.OI_INPUT_VALUE]) == {"order_id": "A1"}
    assert lookup[sc.OI_INPUT_MIME_TYPE] == "application/json"
    status = spans["execute_tool order_status"].attributes
    assert status[sc.OI_OUTPUT_VALUE] == "A1 has shipped"  # plain text, without JSON quotes
    assert status[sc.OI_OUTPUT_MIME_TYPE] == "text/plain"
