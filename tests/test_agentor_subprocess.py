"""``opentelemetry-instrument`` finds the Agentor instrumentor by its entry point, and with
``CELESTO_API_KEY`` alone an Agentor app with Agentor's own Celesto tracing on sends each run
to Celesto once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentor_fixtures import weather_replies
from celesto_fake import FakeCelesto
from fake_openai import FakeOpenAI
from test_pipeline_subprocess import OPENTELEMETRY_INSTRUMENT, _env, _run

APP = """
import os
import openai
from agentor import Agentor
from agentor.engine import ChatCompletionsModel

def get_weather(city: str) -> str:
    "Return the weather in a city."
    return f"Sunny in {city}"

client = openai.AsyncOpenAI(base_url=os.environ["FAKE_OPENAI_URL"], api_key="k", max_retries=0)
agent = Agentor(
    name="Weather",
    model=ChatCompletionsModel("gpt-4o-mini", client=client),
    tools=[get_weather],
    enable_tracing=True,
)
print(agent.run("Weather in Paris?").final_output)
"""


@pytest.mark.parametrize("exporters", ["none", "agentel_celesto"])
def test_opentelemetry_instrument_sends_an_agentor_run_to_celesto_once(
    fake_openai: FakeOpenAI, tmp_path: Path, exporters: str
) -> None:
    """With the key alone (agentel's post-instrument hook adds Celesto export), or with
    agentel's Celesto exporter named in OTEL_TRACES_EXPORTER (built by OTel's configurator)."""
    fake_openai.script(weather_replies())
    with FakeCelesto() as celesto:
        env = _env(
            CELESTO_API_KEY="cel_key",
            CELESTO_BASE_URL=celesto.base_url,
            OTEL_TRACES_EXPORTER=exporters,
            OTEL_METRICS_EXPORTER="none",
            FAKE_OPENAI_URL=fake_openai.base_url,
            LITELLM_LOCAL_MODEL_COST_MAP="True",
        )
        _run([str(OPENTELEMETRY_INSTRUMENT), "python"], env, tmp_path, APP)
        items = celesto.items()
    assert [item["object"] for item in items].count("trace") == 1
    spans = [item for item in items if item["object"] == "trace.span"]
    assert sorted(s["span_data"]["type"] for s in spans) == [
        "agent",
        "function",
        "generation",
        "generation",
    ]
    assert all(re.fullmatch(r"span_[0-9a-f]{16}", s["span_id"]) for s in spans)  # agentel's
