"""Real Agno runs against the fake OpenAI server: the span tree, kinds, attributes, tokens and
call ids, for an agent, a team and a workflow, each run sync, async and streamed."""

from __future__ import annotations

import asyncio

import pytest
from agno.agent import Agent
from agno.models.openai import OpenAIChat
from agno.tools import tool
from agno.workflow import Parallel, Step, Workflow
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from agent_fixtures import Traced, parent_of
from agno_support import (
    CREW_SCRIPT,
    MODES,
    PIPELINE_SCRIPT,
    WEATHER_SCRIPT,
    crew,
    model,
    pipeline,
    run,
    weather_agent,
)
from fake_openai import FakeOpenAI, Reply, ToolCall


def shape(spans: list[ReadableSpan]) -> list[str]:
    """The tree as indented names; siblings by name (then start), since an async run starts
    parallel tool calls in no fixed order."""
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        lines.append("  " * depth + span.name)
        kids = [s for s in spans if s.parent and s.parent.span_id == span.context.span_id]
        for child in sorted(kids, key=lambda s: (s.name, s.start_time or 0)):
            walk(child, depth + 1)

    for root in sorted(spans, key=lambda s: s.start_time or 0):
        if root.parent is None:
            walk(root, 0)
    return lines


@pytest.mark.parametrize("mode", MODES)
def test_agent_with_two_tools(agno_traced: Traced, fake_openai: FakeOpenAI, mode: str) -> None:
    fake_openai.script(list(WEATHER_SCRIPT))
    output = run(
        weather_agent(fake_openai),
        mode,
        "Weather in Paris?",
        session_id="s-42",
        metadata={"tenant": "acme", "tier": 2},
    )
    assert getattr(output, "content", None) == "Sunny in Paris; the station is offline."
    spans = agno_traced.spans()
    assert shape(spans) == [
        "invoke_agent forecaster",
        "  chat gpt-4o",
        "  chat gpt-4o",
        "  execute_tool get_weather",
        "  execute_tool read_station",
    ]
    agent = agno_traced.one("invoke_agent forecaster")
    assert agent.kind is SpanKind.INTERNAL
    attributes = dict(agent.attributes or {})
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.agent.name"] == "forecaster"
    assert attributes["gen_ai.agent.id"] == "forecaster"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["agentel.agno.entity"] == "agent"
    assert attributes["agentel.agno.run_id"] == output.run_id
    assert (attributes["agentel.metadata.tenant"], attributes["agentel.metadata.tier"]) == (
        "acme",
        2,
    )
    # Tokens of both model calls, cached included in input, reasoning in output.
    assert attributes["gen_ai.usage.input_tokens"] == 230
    assert attributes["gen_ai.usage.output_tokens"] == 22
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 40
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 4
    # The conversation id is the session id, on every span of the run.
    assert {s.attributes.get("gen_ai.conversation.id") for s in spans} == {"s-42"}

    first, second = agno_traced.named("chat gpt-4o")
    assert first.kind is SpanKind.CLIENT
    chat = dict(first.attributes or {})
    streamed = "stream" in mode
    assert chat["gen_ai.request.model"] == "gpt-4o"
    assert chat["gen_ai.provider.name"] == "openai"
    assert chat["gen_ai.request.stream"] is streamed
    assert chat["gen_ai.response.model"] == "gpt-4o-2025-01-01"
    assert chat["gen_ai.response.id"].startswith("chatcmpl-")
    assert chat["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert chat["server.address"] == "127.0.0.1"
    assert chat["server.port"] == int(fake_openai.base_url.split(":")[2].split("/")[0])
    assert (chat["gen_ai.usage.input_tokens"], chat["gen_ai.usage.output_tokens"]) == (100, 10)
    assert chat["gen_ai.usage.cache_read.input_tokens"] == 40
    assert ("gen_ai.response.time_to_first_chunk" in chat) is streamed
    assert second.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert second.attributes["gen_ai.usage.reasoning.output_tokens"] == 4

    tool = agno_traced.one("execute_tool get_weather")
    assert dict(tool.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": "call_weather",
        "gen_ai.tool.description": "Today's weather in a city.",
        "gen_ai.agent.name": "forecaster",
        "gen_ai.conversation.id": "s-42",
    }
    assert tool.status.status_code is StatusCode.UNSET
    assert agno_traced.one("execute_tool read_station").attributes["gen_ai.tool.call.id"] == (
        "call_station"
    )


@pytest.mark.parametrize("mode", MODES)
def test_team_members_nest_under_the_delegation_call(
    agno_traced: Traced, fake_openai: FakeOpenAI, mode: str
) -> None:
    fake_openai.script(list(CREW_SCRIPT))
    output = run(crew(fake_openai), mode, "Which tower is tallest?", user_id="ada")
    assert output.content == "Dubai has the tallest tower."
    spans = agno_traced.spans()
    assert shape(spans) == [
        "invoke_agent crew",
        "  chat gpt-4o",
        "  chat gpt-4o",
        "  execute_tool delegate_task_to_member",
        "    invoke_agent scout",
        "      chat gpt-4o",
    ]
    team = agno_traced.one("invoke_agent crew")
    member = agno_traced.one("invoke_agent scout")
    delegation = agno_traced.one("execute_tool delegate_task_to_member")
    assert parent_of(member, spans) is delegation
    assert delegation.attributes["gen_ai.tool.call.id"] == "call_delegate"
    assert team.attributes["agentel.agno.entity"] == "team"
    assert member.attributes["agentel.agno.entity"] == "agent"
    assert member.attributes["gen_ai.agent.description"] == "Finds facts"
    assert member.attributes["agentel.agno.run_id"] != team.attributes["agentel.agno.run_id"]
    # The team's tokens include its member's; the member's are its own.
    assert team.attributes["gen_ai.usage.input_tokens"] == 140
    assert team.attributes["gen_ai.usage.output_tokens"] == 23
    assert member.attributes["gen_ai.usage.input_tokens"] == 20
    # One session for the team and its members, and the user on both runs.
    assert len({s.attributes["gen_ai.conversation.id"] for s in spans}) == 1
    assert team.attributes["gen_ai.conversation.id"] == output.session_id
    assert team.attributes["user.id"] == member.attributes["user.id"] == "ada"
    # The delegation span covers the member's whole run.
    assert delegation.start_time <= member.start_time
    assert member.end_time <= delegation.end_time


@pytest.mark.parametrize("mode", MODES)
def test_workflow_with_two_steps(agno_traced: Traced, fake_openai: FakeOpenAI, mode: str) -> None:
    fake_openai.script(list(PIPELINE_SCRIPT))
    output = run(pipeline(fake_openai), mode, "towers", session_id="wf-1")
    assert output.content == "An article on towers."
    spans = agno_traced.spans()
    assert shape(spans) == [
        "invoke_workflow article",
        "  research",
        "    invoke_agent researcher",
        "      chat gpt-4o",
        "  write",
        "    invoke_agent writer",
        "      chat gpt-4o",
    ]
    workflow = agno_traced.one("invoke_workflow article")
    assert workflow.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert workflow.attributes["gen_ai.workflow.name"] == "article"
    assert workflow.attributes["agentel.agno.run_id"] == output.run_id
    assert workflow.attributes["gen_ai.usage.input_tokens"] == 28
    assert workflow.attributes["gen_ai.usage.output_tokens"] == 8
    assert "gen_ai.request.model" not in workflow.attributes
    step = agno_traced.one("research")
    assert step.attributes["agentel.agno.step.type"] == "step"
    assert "gen_ai.operation.name" not in step.attributes
    assert {s.attributes.get("gen_ai.conversation.id") for s in spans} == {"wf-1"}
    # Steps run one after the other.
    assert step.end_time <= agno_traced.one("write").start_time


def test_metrics(agno_traced: Traced, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(list(WEATHER_SCRIPT))
    run(weather_agent(fake_openai), "sync", "Weather in Paris?")
    durations = agno_traced.metric_points("gen_ai.client.operation.duration")
    assert sum(p.count for p in durations) == 2
    point = durations[0]
    assert point.attributes["gen_ai.provider.name"] == "openai"
    assert point.attributes["gen_ai.request.model"] == "gpt-4o"
    assert point.attributes["gen_ai.response.model"] == "gpt-4o-2025-01-01"
    tokens = {
        p.attributes["gen_ai.token.type"]: p.sum
        for p in agno_traced.metric_points("gen_ai.client.token.usage")
    }
    assert tokens == {"input": 230, "output": 22}
    agents = agno_traced.metric_points("gen_ai.invoke_agent.duration")
    assert [p.attributes["gen_ai.agent.name"] for p in agents] == ["forecaster"]
    tools = {
        (p.attributes["gen_ai.tool.name"], p.attributes.get("error.type"))
        for p in agno_traced.metric_points("gen_ai.execute_tool.duration")
    }
    assert tools == {("get_weather", None), ("read_station", "agno_support.StationOffline")}


@pytest.mark.parametrize("mode", ["sync", "async-stream"])
def test_a_team_as_a_workflow_step(agno_traced: Traced, fake_openai: FakeOpenAI, mode: str) -> None:
    fake_openai.script(list(CREW_SCRIPT))
    workflow = Workflow(
        name="article", steps=[Step(name="research", team=crew(fake_openai))], telemetry=False
    )
    run(workflow, mode, "Which tower is tallest?", user_id="ada")
    spans = agno_traced.spans()
    assert shape(spans) == [
        "invoke_workflow article",
        "  research",
        "    invoke_agent crew",
        "      chat gpt-4o",
        "      chat gpt-4o",
        "      execute_tool delegate_task_to_member",
        "        invoke_agent scout",
        "          chat gpt-4o",
    ]
    workflow_span = agno_traced.one("invoke_workflow article")
    assert workflow_span.attributes["gen_ai.usage.input_tokens"] == 140
    assert workflow_span.attributes["user.id"] == "ada"
    assert len({s.attributes["gen_ai.conversation.id"] for s in spans}) == 1


def test_request_settings_on_the_chat_span(agno_traced: Traced, fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(text="ok")])
    settings = OpenAIChat(
        id="gpt-4o-mini",
        base_url=fake_openai.base_url,
        api_key="test-key",
        temperature=0.2,
        top_p=0.9,
        max_tokens=100,
        frequency_penalty=0.5,
        presence_penalty=0.1,
        seed=7,
        stop=["END"],
    )
    Agent(name="tuned", model=settings, telemetry=False).run("hi")
    chat = agno_traced.one("chat gpt-4o-mini")
    assert {k: v for k, v in chat.attributes.items() if k.startswith("gen_ai.request.")} == {
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.stream": False,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.request.frequency_penalty": 0.5,
        "gen_ai.request.presence_penalty": 0.1,
        "gen_ai.request.seed": 7,
        "gen_ai.request.stop_sequences": ("END",),
    }
    sent = fake_openai.requests[0].body
    assert (sent["temperature"], sent["max_tokens"], sent["seed"]) == (0.2, 100, 7)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_paused_run_continued(
    agno_traced: Traced, fake_openai: FakeOpenAI, asynchronous: bool
) -> None:
    """A tool that needs confirmation pauses the run; continue_run resumes it: two agent spans
    of the same Agno run and session, the tool call under the second."""

    @tool(requires_confirmation=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        return f"deleted {path}"

    fake_openai.script(
        [
            Reply(tool_calls=[ToolCall("delete_file", {"path": "/tmp/x"}, call_id="call_del")]),
            Reply(text="Deleted."),
        ]
    )
    agent = Agent(name="janitor", model=model(fake_openai), tools=[delete_file], telemetry=False)
    paused = agent.run("delete /tmp/x", session_id="hitl", user_id="ada")
    assert paused.is_paused
    for requirement in paused.active_requirements:
        requirement.confirm()
    if asynchronous:
        done = asyncio.run(agent.acontinue_run(run_response=paused))
    else:
        done = agent.continue_run(run_response=paused)
    assert done.content == "Deleted."
    spans = agno_traced.spans()
    assert shape(spans) == [
        "invoke_agent janitor",
        "  chat gpt-4o",
        "invoke_agent janitor",
        "  chat gpt-4o",
        "  execute_tool delete_file",
    ]
    first, second = agno_traced.named("invoke_agent janitor")
    assert first.attributes["agentel.agno.run_id"] == second.attributes["agentel.agno.run_id"]
    assert {s.attributes["gen_ai.conversation.id"] for s in spans} == {"hitl"}
    assert second.attributes["user.id"] == "ada"
    tool_span = agno_traced.one("execute_tool delete_file")
    assert tool_span.attributes["gen_ai.tool.call.id"] == "call_del"


@pytest.mark.parametrize("mode", ["sync", "async", "stream"])
def test_parallel_steps_nest_under_their_group(
    agno_traced: Traced, fake_openai: FakeOpenAI, mode: str
) -> None:
    fake_openai.set_responder(lambda request: Reply(text="notes"))
    workflow = Workflow(
        name="survey",
        steps=[
            Parallel(
                Step(
                    name="north", agent=Agent(name="n", model=model(fake_openai), telemetry=False)
                ),
                Step(
                    name="south", agent=Agent(name="s", model=model(fake_openai), telemetry=False)
                ),
                name="both sides",
            )
        ],
        telemetry=False,
    )
    run(workflow, mode, "survey", session_id="par-1")
    spans = agno_traced.spans()
    assert shape(spans) == [
        "invoke_workflow survey",
        "  both sides",
        "    north",
        "      invoke_agent n",
        "        chat gpt-4o",
        "    south",
        "      invoke_agent s",
        "        chat gpt-4o",
    ]
    assert agno_traced.one("both sides").attributes["agentel.agno.step.type"] == "parallel"
    assert {s.attributes["gen_ai.conversation.id"] for s in spans} == {"par-1"}
