"""Instrumenting and uninstrumenting Agno: found by agentel.instrument() and
opentelemetry-instrument, every patched function restored, and a guest that never breaks a
run."""

from __future__ import annotations

import importlib.metadata
import logging
from typing import Any

import pytest
from agno.agent import Agent
from agno.models.base import Model
from agno.models.openai import OpenAIChat
from agno.models.openai.responses import OpenAIResponses
from agno.team import Team
from agno.tools.function import FunctionCall
from agno.workflow import Workflow
from agno.workflow.condition import Condition
from agno.workflow.loop import Loop
from agno.workflow.parallel import Parallel
from agno.workflow.router import Router
from agno.workflow.step import Step
from agno.workflow.steps import Steps
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentel
from agent_fixtures import Traced
from agentel.instrumentation.agno import AgnoInstrumentor
from agno_support import WEATHER_SCRIPT, make_traced, model, weather_agent
from fake_openai import FakeOpenAI, Reply

_PATCHED = [
    *(
        (cls, name)
        for cls in (Agent, Team)
        for name in ("run", "arun", "continue_run", "acontinue_run")
    ),
    (Workflow, "run"),
    (Workflow, "arun"),
    *(
        (cls, name)
        for cls in (Step, Steps, Parallel, Loop, Condition, Router)
        for name in ("execute", "execute_stream", "aexecute", "aexecute_stream")
    ),
    (FunctionCall, "execute"),
    (FunctionCall, "aexecute"),
    *(
        (cls, name)
        for cls in (OpenAIChat, OpenAIResponses)
        for name in (
            "invoke",
            "ainvoke",
            "invoke_stream",
            "ainvoke_stream",
            "_parse_provider_response",
            "_parse_provider_response_delta",
        )
    ),
]


def _agno_loggers() -> list[logging.Logger]:
    from agno.utils import log

    return [log.agent_logger, log.team_logger, log.workflow_logger]


def test_uninstrument_restores_every_function(fake_openai: FakeOpenAI) -> None:
    originals = {(cls, name): cls.__dict__[name] for cls, name in _PATCHED}
    filters = [list(logger.filters) for logger in _agno_loggers()]
    had_hook = "__init_subclass__" in Model.__dict__
    traced = make_traced()
    try:
        changed = [
            key for key, original in originals.items() if key[0].__dict__[key[1]] is original
        ]
        assert changed == []  # every one of them is wrapped while instrumented

        class LateModel(OpenAIChat):
            """A model class defined after instrumentation, as a plugin might."""

            def invoke(self, *args: Any, **kwargs: Any) -> Any:
                return super().invoke(*args, **kwargs)

        assert hasattr(LateModel.__dict__["invoke"], "__wrapped__")  # wrapped on definition
        fake_openai.script([Reply(text="late")])
        Agent(
            name="late",
            model=LateModel(id="gpt-4o", base_url=fake_openai.base_url, api_key="k"),
            telemetry=False,
        ).run("hi")
        # A subclass calling super() is one request, one span.
        assert [s.name for s in traced.spans()] == ["invoke_agent late", "chat gpt-4o"]
    finally:
        traced.instrumentor.uninstrument()
    for (cls, name), original in originals.items():
        assert cls.__dict__[name] is original, f"{cls.__name__}.{name} still wrapped"
    assert not hasattr(LateModel.__dict__["invoke"], "__wrapped__")
    assert ("__init_subclass__" in Model.__dict__) is had_hook
    assert [list(logger.filters) for logger in _agno_loggers()] == filters
    # And nothing is traced any more.
    traced.exporter.clear()
    fake_openai.script(list(WEATHER_SCRIPT))
    weather_agent(fake_openai).run("hi")
    assert traced.spans() == []


def test_instrument_twice_is_harmless(fake_openai: FakeOpenAI) -> None:
    traced = make_traced()
    try:
        AgnoInstrumentor().instrument()  # already instrumented: a no-op
        fake_openai.script([Reply(text="once")])
        Agent(name="once", model=model(fake_openai), telemetry=False).run("hi")
        assert [s.name for s in traced.spans()] == ["invoke_agent once", "chat gpt-4o"]
    finally:
        traced.instrumentor.uninstrument()


def test_entry_point_for_opentelemetry_instrument() -> None:
    entry_points = importlib.metadata.entry_points(group="opentelemetry_instrumentor")
    ours = [ep for ep in entry_points if ep.name == "agentel_agno"]
    assert len(ours) == 1
    assert ours[0].load() is AgnoInstrumentor
    assert AgnoInstrumentor().instrumentation_dependencies() == ("agno >= 3.0, < 4",)


def test_agentel_instrument_does_agno(fake_openai: FakeOpenAI) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert "agno" in agentel.instrument(tracer_provider=provider)
    try:
        fake_openai.script([Reply(text="ok")])
        Agent(name="plain", model=model(fake_openai), telemetry=False).run("hi")
    finally:
        agentel.uninstrument()
    assert [s.name for s in exporter.get_finished_spans()] == ["chat gpt-4o", "invoke_agent plain"]
    assert not AgnoInstrumentor().is_instrumented_by_opentelemetry


def test_our_failure_leaves_the_run_untouched(
    agno_traced: Traced, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug of ours (here: reading the model fails) costs its span, never the user's run."""
    from agentel.instrumentation.agno import model_call

    def broken(model: Any) -> Any:
        raise RuntimeError("our bug")

    monkeypatch.setattr(model_call, "_profile_of", broken)
    fake_openai.script(list(WEATHER_SCRIPT))
    output = weather_agent(fake_openai).run("Weather in Paris?")
    assert output.content == "Sunny in Paris; the station is offline."
    names = sorted(s.name for s in agno_traced.spans())
    assert names == [
        "execute_tool get_weather",
        "execute_tool read_station",
        "invoke_agent forecaster",
    ]
