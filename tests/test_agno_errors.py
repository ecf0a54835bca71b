"""Agno forgives a failing tool and reports a failed run with status ERROR instead of raising:
the span where it failed still carries the real exception, and the runs above are ERROR."""

from __future__ import annotations

import importlib.metadata

import pytest
from opentelemetry.trace import StatusCode

from agent_fixtures import Traced
from agno_support import (
    MODES,
    PIPELINE_SCRIPT,
    WEATHER_SCRIPT,
    events_named,
    pipeline,
    run,
    weather_agent,
)
from fake_openai import FakeOpenAI, Reply

AGNO_VERSION = tuple(int(part) for part in importlib.metadata.version("agno").split(".")[:2])


@pytest.mark.parametrize("mode", MODES)
def test_a_raising_tool_is_error_with_its_exception(
    agno_traced: Traced, fake_openai: FakeOpenAI, mode: str
) -> None:
    fake_openai.script(list(WEATHER_SCRIPT))
    output = run(weather_agent(fake_openai), mode, "Weather in Paris?")
    assert output.status.value == "COMPLETED"  # Agno carried on without the tool
    tool = agno_traced.one("execute_tool read_station")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.status.description == "StationOffline: station PAR-1 is offline"
    assert tool.attributes["error.type"] == "agno_support.StationOffline"
    (event,) = events_named(tool, "exception")
    assert event.attributes["exception.type"] == "agno_support.StationOffline"
    assert event.attributes["exception.message"] == "station PAR-1 is offline"
    assert (
        'in read_station\n    raise StationOffline(f"station'
        in (event.attributes["exception.stacktrace"])
    )
    # The run the tool failed in succeeded.
    agent = agno_traced.one("invoke_agent forecaster")
    assert agent.status.status_code is StatusCode.UNSET
    assert agno_traced.one("execute_tool get_weather").status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_model_call_fails_the_run(
    agno_traced: Traced, fake_openai: FakeOpenAI, mode: str
) -> None:
    fake_openai.script([Reply(status=500, error_message="the model is down")])
    output = run(weather_agent(fake_openai), mode, "Weather in Paris?")
    if output is not None and hasattr(output, "status"):
        assert output.status.value == "ERROR"
    chat = agno_traced.one("chat gpt-4o")
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes["error.type"] == "agno.exceptions.ModelProviderError"
    (event,) = events_named(chat, "exception")
    assert "the model is down" in event.attributes["exception.message"]
    agent = agno_traced.one("invoke_agent forecaster")
    assert agent.status.status_code is StatusCode.ERROR
    assert agent.attributes["error.type"] == "agno.exceptions.ModelProviderError"
    assert "the model is down" in (agent.status.description or "")
    assert events_named(agent, "exception") == []  # the stack is on the chat span only
    points = agno_traced.metric_points("gen_ai.client.operation.duration")
    assert [p.attributes["error.type"] for p in points] == ["agno.exceptions.ModelProviderError"]
    (agent_point,) = agno_traced.metric_points("gen_ai.invoke_agent.duration")
    assert agent_point.attributes["error.type"] == "agno.exceptions.ModelProviderError"


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_step_fails_the_workflow(
    agno_traced: Traced, fake_openai: FakeOpenAI, mode: str
) -> None:
    fake_openai.script([PIPELINE_SCRIPT[0], Reply(status=500, error_message="writer is down")])
    run(pipeline(fake_openai, max_retries=0), mode, "towers")
    writer = agno_traced.one("invoke_agent writer")
    assert writer.status.status_code is StatusCode.ERROR
    if "stream" in mode and AGNO_VERSION < (3, 1):
        # Agno 3.0 reports a streamed step whose agent failed as a success, and so do we.
        assert agno_traced.one("write").status.status_code is StatusCode.UNSET
        assert agno_traced.one("invoke_workflow article").status.status_code is StatusCode.UNSET
        return
    step = agno_traced.one("write")
    assert step.status.status_code is StatusCode.ERROR
    # The step reports the failure and the exception recorded below it names the type; a
    # streamed step of agno 3.1 raises its own RuntimeError instead, which is then the one.
    expected = {"agno.exceptions.ModelProviderError"}
    if "stream" in mode:
        expected.add("RuntimeError")
    assert step.attributes["error.type"] in expected
    workflow = agno_traced.one("invoke_workflow article")
    assert workflow.status.status_code is StatusCode.ERROR
    assert workflow.attributes["error.type"] == "agno.exceptions.ModelProviderError"
    assert agno_traced.one("research").status.status_code is StatusCode.UNSET
    assert agno_traced.one("invoke_agent researcher").status.status_code is StatusCode.UNSET


def test_a_raising_tool_is_error_even_when_agnos_logs_are_off(
    agno_traced: Traced, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Agno's log record there is no exception to keep: the span is still ERROR, with
    Agno's failure message."""
    from agno.utils import log

    for logger in (log.logger, log.agent_logger, log.team_logger, log.workflow_logger):
        monkeypatch.setattr(logger, "disabled", True)
    fake_openai.script(list(WEATHER_SCRIPT))
    run(weather_agent(fake_openai), "sync", "Weather in Paris?")
    tool = agno_traced.one("execute_tool read_station")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.status.description == "station PAR-1 is offline"
    assert tool.attributes["error.type"] == "_OTHER"
    assert events_named(tool, "exception") == []
