"""``opentelemetry-instrument python app.py`` traces an Agno app with no change to its code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fake_openai import FakeOpenAI, Reply
from otlp_receiver import OTLPReceiver

OPENTELEMETRY_INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"
APP = """
import os
from agno.agent import Agent
from agno.models.openai import OpenAIChat

model = OpenAIChat(id="gpt-4o", base_url=os.environ["FAKE_OPENAI_URL"], api_key="k", max_retries=0)
print(Agent(name="forecaster", model=model, telemetry=False).run("Weather?").content)
"""


def test_opentelemetry_instrument_traces_an_agno_app(
    receiver: OTLPReceiver, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.script([Reply(text="Sunny")])
    own = ("OTEL_", "AGENTEL_", "CELESTO_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env.update(
        FAKE_OPENAI_URL=fake_openai.base_url,
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_BSP_SCHEDULE_DELAY="50",
        # OpenInference's Agno instrumentor, when installed too, would add its own spans.
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="agno",
    )
    script = tmp_path / "app.py"
    script.write_text(APP)
    done = subprocess.run(
        [str(OPENTELEMETRY_INSTRUMENT), sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Sunny"
    spans = {span.name: span for span in receiver.spans()}
    assert set(spans) == {"invoke_agent forecaster", "chat gpt-4o"}
