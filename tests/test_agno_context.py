"""Our context is current only while Agno's own code runs: never in the caller's code after a
run returns or between streamed events, so later work is not parented to an ended span; and
spans others make inside our work nest under the span they ran in."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from agno.agent import Agent
from agno.models.openai import OpenAIChat
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from agent_fixtures import Traced, parent_of
from agno_support import CREW_SCRIPT, MODES, crew, model, run, weather_agent
from fake_openai import FakeOpenAI, Reply, ToolCall, Usage


def test_no_context_leak_after_team_run(agno_traced: Traced, fake_openai: FakeOpenAI) -> None:
    """Agno's own tracing leaves the ended team span current after team.run(), so every later
    run in the thread joins the team's trace; with agentel each run is its own trace."""
    fake_openai.script([*CREW_SCRIPT, Reply(text="alone")])
    team = crew(fake_openai)
    team.run("Which tower is tallest?")
    assert trace.get_current_span() is trace.INVALID_SPAN
    Agent(name="solo", model=model(fake_openai), telemetry=False).run("hi")
    solo = agno_traced.one("invoke_agent solo")
    team_span = agno_traced.one("invoke_agent crew")
    assert solo.parent is None and team_span.parent is None
    assert solo.context.trace_id != team_span.context.trace_id


@pytest.mark.parametrize("asynchronous", [False, True])
def test_caller_code_between_streamed_events_sees_no_span_of_ours(
    agno_traced: Traced, fake_openai: FakeOpenAI, asynchronous: bool
) -> None:
    fake_openai.script(list(CREW_SCRIPT))
    team = crew(fake_openai)
    seen: list[Any] = []
    if asynchronous:

        async def consume() -> None:
            async for _ in team.arun("go", stream=True, stream_events=True):
                seen.append(trace.get_current_span())

        asyncio.run(consume())
    else:
        for _ in team.run("go", stream=True, stream_events=True):
            seen.append(trace.get_current_span())
    assert len(seen) > 3
    assert all(span is trace.INVALID_SPAN for span in seen)
    assert len({s.context.trace_id for s in agno_traced.spans()}) == 1


def test_a_stream_left_unfinished_ends_its_spans(
    agno_traced: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script([Reply(text="a long answer in many pieces")])
    stream = weather_agent(fake_openai).run("hi", stream=True)
    next(stream)
    stream.close()
    names = [s.name for s in agno_traced.spans()]
    assert "invoke_agent forecaster" in names
    assert trace.get_current_span() is trace.INVALID_SPAN


@pytest.mark.parametrize("mode", MODES)
def test_user_span_inside_a_tool_nests_under_the_tool(
    agno_traced: Traced, fake_openai: FakeOpenAI, mode: str
) -> None:
    tracer = agno_traced.tracer_provider.get_tracer("app")

    def fetch_invoice(invoice_id: str) -> str:
        """Fetch an invoice."""
        with tracer.start_as_current_span("db.query invoices"):
            return f"invoice {invoice_id}: paid"

    fake_openai.script(
        [
            Reply(tool_calls=[ToolCall("fetch_invoice", {"invoice_id": "I9"})]),
            Reply(text="It is paid."),
        ]
    )
    clerk = Agent(name="clerk", model=model(fake_openai), tools=[fetch_invoice], telemetry=False)
    run(clerk, mode, "invoice I9")
    spans = agno_traced.spans()
    query = agno_traced.one("db.query invoices")
    assert parent_of(query, spans) is agno_traced.one("execute_tool fetch_invoice")


def test_a_run_nests_under_the_callers_span_and_keeps_its_tree(
    agno_traced: Traced, fake_openai: FakeOpenAI
) -> None:
    tracer = agno_traced.tracer_provider.get_tracer("app")
    fake_openai.script(list(CREW_SCRIPT))
    with tracer.start_as_current_span("request /ask"):
        crew(fake_openai).run("Which tower is tallest?")
    spans = agno_traced.spans()
    team = agno_traced.one("invoke_agent crew")
    assert parent_of(team, spans) is agno_traced.one("request /ask")
    assert parent_of(agno_traced.one("invoke_agent scout"), spans) is agno_traced.one(
        "execute_tool delegate_task_to_member"
    )


def test_an_agent_run_inside_a_users_span_in_a_tool_nests_there_and_sums_up(
    agno_traced: Traced, fake_openai: FakeOpenAI
) -> None:
    """A user's span between our tool and an agent the tool runs: the agent's OTel parent is
    the user's span, and its tokens still count in the outer agent's sums."""
    tracer = agno_traced.tracer_provider.get_tracer("app")
    inner = Agent(name="inner", model=model(fake_openai), telemetry=False)

    def ask_inner(question: str) -> str:
        """Ask the inner agent."""
        with tracer.start_as_current_span("app.ask"):
            return str(inner.run(question).content)

    fake_openai.script(
        [
            Reply(tool_calls=[ToolCall("ask_inner", {"question": "q"})], usage=Usage(10, 1)),
            Reply(text="inner answer", usage=Usage(7, 2)),
            Reply(text="done", usage=Usage(12, 3)),
        ]
    )
    outer = Agent(name="outer", model=model(fake_openai), tools=[ask_inner], telemetry=False)
    outer.run("go", session_id="s-9")
    spans = agno_traced.spans()
    inner_span = agno_traced.one("invoke_agent inner")
    assert parent_of(inner_span, spans) is agno_traced.one("app.ask")
    assert parent_of(agno_traced.one("app.ask"), spans) is agno_traced.one("execute_tool ask_inner")
    assert agno_traced.one("invoke_agent outer").attributes["gen_ai.usage.input_tokens"] == 29
    # The inner run is part of the outer run's conversation, like a team's members.
    assert {s.attributes.get("gen_ai.conversation.id") for s in spans if s.name != "app.ask"} == {
        "s-9"
    }


def test_concurrent_runs_make_one_trace_each(agno_traced: Traced, fake_openai: FakeOpenAI) -> None:
    fake_openai.set_responder(lambda request: Reply(text=f"answer to {request.user_text}"))

    async def many() -> list[Any]:
        agents = [Agent(name=f"a{i}", model=model(fake_openai), telemetry=False) for i in range(20)]
        return await asyncio.gather(*(a.arun(f"q{i}") for i, a in enumerate(agents)))

    outputs = asyncio.run(many())
    assert [o.content for o in outputs] == [f"answer to q{i}" for i in range(20)]
    spans = agno_traced.spans()
    agents = [s for s in spans if s.name.startswith("invoke_agent")]
    assert len({s.context.trace_id for s in agents}) == 20
    for chat in agno_traced.named("chat gpt-4o"):
        parent = parent_of(chat, spans)
        assert parent is not None and parent.name.startswith("invoke_agent")


def test_http_client_span_nests_under_the_model_call(
    agno_traced: Traced, fake_openai: FakeOpenAI
) -> None:
    tracer = agno_traced.tracer_provider.get_tracer("http-client")

    class TracedTransport(httpx.HTTPTransport):
        """Starts a client span per request, as an HTTP client instrumentation does."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            with tracer.start_as_current_span(request.method, kind=SpanKind.CLIENT):
                return super().handle_request(request)

    with httpx.Client(transport=TracedTransport()) as http_client:
        traced_model = OpenAIChat(
            id="gpt-4o",
            base_url=fake_openai.base_url,
            api_key="test-key",
            max_retries=0,
            http_client=http_client,
        )
        fake_openai.script([Reply(text="Hi!")])
        Agent(name="greeter", model=traced_model, telemetry=False).run("hello")
    spans = agno_traced.spans()
    assert parent_of(agno_traced.one("POST"), spans) is agno_traced.one("chat gpt-4o")
