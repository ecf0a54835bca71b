"""Whole processes: a short script loses no span at exit, a dead backend cannot hang it, and
``opentelemetry-instrument`` works from environment variables alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from celesto_fake import FakeCelesto
from otlp_receiver import OTLPReceiver

TESTS = Path(__file__).parent
OPENTELEMETRY_INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"
RUN_NAMES = {
    "invoke_workflow Agent workflow",
    "invoke_agent Forecaster",
    "chat scripted-4o",
    "execute_tool get_weather",
}
AGENT_RUN = """
from agents import Runner
from pipeline_scripted_model import weather_agent
print(Runner.run_sync(weather_agent(), "Weather in Paris?").final_output)
"""


def _env(**extra: str) -> dict[str, str]:
    own = ("OTEL_", "AGENTEL_", "CELESTO_", "LANGFUSE_", "DD_", "PHOENIX_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return {**env, **extra}


def _run(argv: list[str], env: dict[str, str], tmp_path: Path, code: str) -> tuple[str, float]:
    script = tmp_path / "app.py"
    script.write_text(code)
    started = time.perf_counter()
    done = subprocess.run([*argv, str(script)], env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert "Sunny" in done.stdout or "Sunny" not in code, done.stderr
    return done.stderr, elapsed


def test_a_script_that_exits_right_after_a_run_delivers_every_span(
    receiver: OTLPReceiver, tmp_path: Path
) -> None:
    code = 'import agentel\nagentel.setup("otlp", schedule_delay=60)\n' + AGENT_RUN
    _run([sys.executable], _env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url), tmp_path, code)
    names = [span.name for span in receiver.spans()]
    assert set(names) == RUN_NAMES
    assert len(names) == 5  # two model calls


def test_a_dead_backend_cannot_hang_exit_and_the_loss_is_reported(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = (
        "import agentel\n"
        f'agentel.setup("otlp", otlp_endpoint="http://127.0.0.1:{port}/v1/traces", '
        "schedule_delay=60, export_timeout=0.3, exit_flush_timeout=2)\n"
        + AGENT_RUN
        + "import sys, time\nprint('exiting at', time.time(), file=sys.stderr)\n"
    )
    stderr, _ = _run([sys.executable], _env(), tmp_path, code)
    exited = time.time()
    assert "5 span(s) could not be sent by the otlp exporter" in stderr
    exiting_at = float(stderr.split("exiting at ")[1].split()[0])
    # Only the exit is timed (starting Python and the SDK is not): it waits at most
    # exit_flush_timeout=2 s; the margin holds on a loaded machine, a hang does not pass.
    assert exited - exiting_at < 10


def test_opentelemetry_instrument_with_env_only_sends_to_otlp_and_celesto(
    receiver: OTLPReceiver, tmp_path: Path
) -> None:
    with FakeCelesto() as celesto:
        env = _env(
            OTEL_TRACES_EXPORTER="otlp,agentel_celesto",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            OTEL_BSP_SCHEDULE_DELAY="50",
            CELESTO_API_KEY="cel_env_key",
            CELESTO_BASE_URL=celesto.base_url,
        )
        _run([str(OPENTELEMETRY_INSTRUMENT), sys.executable], env, tmp_path, AGENT_RUN)
    assert {span.name for span in receiver.spans()} == RUN_NAMES
    traces = [item for item in celesto.items() if item["object"] == "trace"]
    assert [t["workflow_name"] for t in traces] == ["Agent workflow"]  # sent once, not twice
    assert {post.headers["authorization"] for post in celesto.posts} == {"Bearer cel_env_key"}


def test_opentelemetry_instrument_adds_celesto_when_only_its_key_is_set(tmp_path: Path) -> None:
    with FakeCelesto() as celesto:
        env = _env(
            OTEL_TRACES_EXPORTER="none",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            CELESTO_API_KEY="cel_auto",
            CELESTO_BASE_URL=celesto.base_url,
        )
        _run([str(OPENTELEMETRY_INSTRUMENT), sys.executable], env, tmp_path, AGENT_RUN)
    kinds = [item.get("span_data", {}).get("type", "trace") for item in celesto.items()]
    assert kinds == ["trace", "agent", "generation", "function", "generation"]


ZERO_CODE_PRESETS = {
    "langfuse": lambda url: {
        "LANGFUSE_HOST": url,
        "LANGFUSE_PUBLIC_KEY": "pk",
        "LANGFUSE_SECRET_KEY": "sk",
    },
    "phoenix": lambda url: {"PHOENIX_COLLECTOR_ENDPOINT": url},
    "mlflow": lambda url: {"MLFLOW_TRACKING_URI": url},
}


@pytest.mark.parametrize("preset", list(ZERO_CODE_PRESETS))
def test_the_readme_zero_code_preset_command_sends_each_span_once(
    preset: str, receiver: OTLPReceiver, tmp_path: Path
) -> None:
    env = _env(
        OTEL_TRACES_EXPORTER="agentel_otlp",
        AGENTEL_OTLP_PRESET=preset,
        OTEL_BSP_SCHEDULE_DELAY="50",
        **ZERO_CODE_PRESETS[preset](receiver.url),
    )
    _run([str(OPENTELEMETRY_INSTRUMENT), sys.executable], env, tmp_path, AGENT_RUN)
    names = sorted(span.name for span in receiver.spans())
    assert names == sorted([*RUN_NAMES, "chat scripted-4o"])  # two model calls, once each


def test_zero_code_sends_no_metrics_to_a_collector_nobody_named(
    receiver: OTLPReceiver, tmp_path: Path
) -> None:
    """opentelemetry-distro turns on OTLP metrics to localhost:4317 by itself; agentel's
    GenAI metrics do not feed it, so exit does not wait on retries to it."""
    env = _env(
        OTEL_TRACES_EXPORTER="agentel_otlp",
        AGENTEL_OTLP_PRESET="phoenix",
        PHOENIX_COLLECTOR_ENDPOINT=receiver.url,
    )
    stderr, elapsed = _run(
        [str(OPENTELEMETRY_INSTRUMENT), sys.executable], env, tmp_path, AGENT_RUN
    )
    print(f"zero-code run with the distro's defaults: {elapsed:.1f} s")
    assert {span.name for span in receiver.spans()} == RUN_NAMES
    assert "localhost:4317" not in stderr, stderr


@pytest.mark.parametrize(("agentel_metrics", "sent"), [("", True), ("false", False)])
def test_zero_code_metrics_go_where_an_endpoint_is_named_unless_turned_off(
    agentel_metrics: str, sent: bool, receiver: OTLPReceiver, tmp_path: Path
) -> None:
    env = _env(
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        AGENTEL_METRICS=agentel_metrics,
    )
    _run([str(OPENTELEMETRY_INSTRUMENT), sys.executable], env, tmp_path, AGENT_RUN)
    assert {span.name for span in receiver.spans()} == RUN_NAMES
    assert ("gen_ai.client.operation.duration" in receiver.metric_names()) is sent


@pytest.mark.parametrize(
    "exporters",
    [
        {  # the README's preset command
            "OTEL_TRACES_EXPORTER": "agentel_otlp",
            "AGENTEL_OTLP_PRESET": "langfuse",
            "LANGFUSE_PUBLIC_KEY": "pk",
            "LANGFUSE_SECRET_KEY": "sk",
        },
        {  # the README's collector command: the SDK's own exporters, traces and metrics
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        },
    ],
    ids=["agentel_otlp-preset", "sdk-otlp"],
)
def test_zero_code_exit_with_a_dead_backend_is_bounded_by_the_exit_flush_timeout(
    exporters: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = f"http://127.0.0.1:{port}"
    env = _env(
        LANGFUSE_HOST=dead,
        OTEL_EXPORTER_OTLP_ENDPOINT=dead,
        AGENTEL_EXIT_FLUSH_TIMEOUT="1",
        OTEL_BSP_SCHEDULE_DELAY="60000",
        **exporters,
    )
    stderr, elapsed = _run(
        [str(OPENTELEMETRY_INSTRUMENT), sys.executable], env, tmp_path, AGENT_RUN
    )
    print(
        f"zero-code exit with a dead backend ({exporters['OTEL_TRACES_EXPORTER']}): {elapsed:.1f} s"
    )
    assert "agentel: exit did not finish within 1.0 s; giving up on it." in stderr, stderr


@pytest.mark.parametrize("value", ["yes", "flase"])
def test_a_content_switch_value_not_understood_warns_once_naming_the_accepted_values(
    value: str, tmp_path: Path
) -> None:
    code = "import agentel\nagentel.setup('memory')\n" + AGENT_RUN
    env = _env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=value)
    stderr, _ = _run([sys.executable], env, tmp_path, code)
    warning = f"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT='{value}' is not understood"
    assert stderr.count(warning) == 1, stderr
    assert "Accepted values: NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT" in stderr


def test_zero_code_preset_with_celesto_sends_each_span_once_to_each(
    receiver: OTLPReceiver, tmp_path: Path
) -> None:
    """The Celesto key makes agentel add its own exporters under the configurator's
    provider; the preset is already served by ``agentel_otlp`` and is not added again."""
    with FakeCelesto() as celesto:
        env = _env(
            OTEL_TRACES_EXPORTER="agentel_otlp",
            AGENTEL_OTLP_PRESET="phoenix",
            PHOENIX_COLLECTOR_ENDPOINT=receiver.url,
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            OTEL_BSP_SCHEDULE_DELAY="50",
            CELESTO_API_KEY="cel_key",
            CELESTO_BASE_URL=celesto.base_url,
        )
        _run([str(OPENTELEMETRY_INSTRUMENT), sys.executable], env, tmp_path, AGENT_RUN)
    names = sorted(span.name for span in receiver.spans())
    assert names == sorted([*RUN_NAMES, "chat scripted-4o"])
    traces = [item for item in celesto.items() if item["object"] == "trace"]
    assert [t["workflow_name"] for t in traces] == ["Agent workflow"]
