"""Nesting: other OTel spans started inside our spans, and runs grouped into one trace."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx2
import openai
from agents import (
    Agent,
    GuardrailFunctionOutput,
    OpenAIResponsesModel,
    RunConfig,
    RunHooks,
    Runner,
    add_trace_processor,
    custom_span,
    function_tool,
    input_guardrail,
    output_guardrail,
    set_trace_processors,
    trace,
)
from agents.tracing import TracingProcessor, get_trace_provider
from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind

from agent_fixtures import SUPPORT_SCRIPT, Traced, parent_of, support_agents, tree
from fake_openai import FakeOpenAI, Reply, ToolCall


async def test_user_span_inside_a_tool_nests_under_the_tool(
    traced: Traced, fake_openai: FakeOpenAI
):
    tracer = traced.tracer_provider.get_tracer("user-code")

    @function_tool
    def fetch_invoice(invoice_id: str) -> str:
        """Fetch an invoice."""
        with tracer.start_as_current_span("db.query invoices"):
            return f"invoice {invoice_id}"

    fake_openai.script(
        [Reply(tool_calls=[ToolCall("fetch_invoice", {"invoice_id": "I9"})]), Reply(text="Done.")]
    )
    model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake_openai.client())
    await Runner.run(Agent(name="clerk", model=model, tools=[fetch_invoice]), "invoice I9")

    spans = traced.spans()
    query = traced.one("db.query invoices")
    assert parent_of(query, spans) is traced.one("execute_tool fetch_invoice")
    assert query.context.trace_id == traced.one("invoke_workflow Agent workflow").context.trace_id


async def test_http_client_span_nests_under_the_model_call(traced: Traced, fake_openai: FakeOpenAI):
    tracer = traced.tracer_provider.get_tracer("http-client")

    class TracedTransport(httpx2.AsyncHTTPTransport):
        """Starts a client span per request, as an HTTP client instrumentation does."""

        async def handle_async_request(self, request):
            with tracer.start_as_current_span(f"{request.method}", kind=SpanKind.CLIENT):
                return await super().handle_async_request(request)

    http_client = openai.DefaultAsyncHttpx2Client(transport=TracedTransport())
    fake_openai.script([Reply(text="Hi!")])
    model = OpenAIResponsesModel(
        model="gpt-4o", openai_client=fake_openai.client(http_client=http_client)
    )
    await Runner.run(Agent(name="greeter", model=model), "hello")
    await http_client.aclose()

    spans = traced.spans()
    post = traced.one("POST")
    assert parent_of(post, spans) is traced.one("chat gpt-4o")


async def test_streamed_model_call_keeps_http_span_nested(traced: Traced, fake_openai: FakeOpenAI):
    tracer = traced.tracer_provider.get_tracer("http-client")

    class TracedTransport(httpx2.AsyncHTTPTransport):
        async def handle_async_request(self, request):
            with tracer.start_as_current_span("POST", kind=SpanKind.CLIENT):
                return await super().handle_async_request(request)

    http_client = openai.DefaultAsyncHttpx2Client(transport=TracedTransport())
    fake_openai.script([Reply(text="Hi there, streamed!")])
    model = OpenAIResponsesModel(
        model="gpt-4o", openai_client=fake_openai.client(http_client=http_client)
    )
    result = Runner.run_streamed(Agent(name="greeter", model=model), "hello")
    seen_current = []
    async for _ in result.stream_events():
        # the consumer's code between events never runs inside our span
        seen_current.append(otel_trace.get_current_span().get_span_context().is_valid)
    await http_client.aclose()
    assert not any(seen_current)
    assert parent_of(traced.one("POST"), traced.spans()) is traced.one("chat gpt-4o")


async def test_three_runs_in_one_sdk_trace_make_one_otel_trace(
    traced: Traced, fake_openai: FakeOpenAI
):
    fake_openai.set_responder(lambda request: Reply(text=f"echo: {request.user_text}"))
    model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake_openai.client())
    agent = Agent(name="concierge", model=model)
    with trace("Conversation", group_id="thread-7", metadata={"channel": "chat"}):
        history: list = []
        for question in ("hi", "where is my order?", "thanks"):
            result = await Runner.run(agent, [*history, {"role": "user", "content": question}])
            history = result.to_input_list()

    spans = traced.spans()
    assert len({s.context.trace_id for s in spans}) == 1
    assert tree(spans) == [
        "invoke_workflow Conversation",
        "  invoke_agent concierge",
        "    chat gpt-4o",
        "  invoke_agent concierge",
        "    chat gpt-4o",
        "  invoke_agent concierge",
        "    chat gpt-4o",
    ]
    assert {s.attributes["gen_ai.conversation.id"] for s in spans} == {"thread-7"}
    workflow = traced.one("invoke_workflow Conversation")
    assert workflow.attributes["agentel.metadata.channel"] == "chat"
    assert workflow.attributes["gen_ai.usage.input_tokens"] == 30


async def test_workflow_nests_under_the_callers_span(traced: Traced, fake_openai: FakeOpenAI):
    tracer = traced.tracer_provider.get_tracer("web")
    fake_openai.script(SUPPORT_SCRIPT)
    with tracer.start_as_current_span("POST /support"):
        await Runner.run(
            support_agents(fake_openai), "refund", run_config=RunConfig(workflow_name="W")
        )
    assert parent_of(traced.one("invoke_workflow W"), traced.spans()) is traced.one("POST /support")


async def test_custom_spans(traced: Traced, fake_openai: FakeOpenAI):
    @function_tool
    def score(text: str) -> str:
        """Score a text."""
        with custom_span("rerank", {"candidates": 3, "strategy": "bm25"}):
            return "0.9"

    fake_openai.script([Reply(tool_calls=[ToolCall("score", {"text": "x"})]), Reply(text="ok")])
    model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake_openai.client())
    with trace("Scoring"):
        with custom_span("prepare", {"source": "inbox"}):
            pass
        await Runner.run(Agent(name="scorer", model=model, tools=[score]), "score x")

    spans = traced.spans()
    prepare = traced.one("prepare")
    assert prepare.kind is SpanKind.INTERNAL
    assert prepare.attributes["agentel.custom.source"] == "inbox"
    assert "gen_ai.operation.name" not in prepare.attributes
    assert parent_of(prepare, spans) is traced.one("invoke_workflow Scoring")
    rerank = traced.one("rerank")
    assert rerank.attributes["agentel.custom.candidates"] == 3
    assert parent_of(rerank, spans) is traced.one("execute_tool score")


async def test_agent_as_tool_nests_its_agent_and_model_call_under_the_tool(
    traced: Traced, fake_openai: FakeOpenAI
):
    def responder(request):
        if request.instructions == "Translate to French.":
            return Reply(text="Bonjour")
        if request.tool_outputs:
            return Reply(text="It says Bonjour.")
        return Reply(tool_calls=[ToolCall("translate", {"input": "Hello"})])

    fake_openai.set_responder(responder)
    model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake_openai.client())
    translator = Agent(name="translator", instructions="Translate to French.", model=model)
    tool = translator.as_tool(tool_name="translate", tool_description="Translate text.")
    await Runner.run(Agent(name="writer", instructions="Write.", model=model, tools=[tool]), "go")

    assert tree(traced.spans()) == [
        "invoke_workflow Agent workflow",
        "  invoke_agent writer",
        "    chat gpt-4o",
        "    execute_tool translate",
        "      invoke_agent translator",
        "        chat gpt-4o",
        "    chat gpt-4o",
    ]


async def test_parallel_tool_calls_each_get_their_own_span(traced: Traced, fake_openai: FakeOpenAI):
    tracer = traced.tracer_provider.get_tracer("user-code")

    @function_tool
    async def weather(city: str) -> str:
        """Weather for a city."""
        with tracer.start_as_current_span(f"fetch {city}"):
            await asyncio.sleep(0.01)  # both calls are in flight at once
            return f"sunny in {city}"

    fake_openai.script(
        [
            Reply(
                tool_calls=[
                    ToolCall("weather", {"city": "Paris"}, call_id="call_paris"),
                    ToolCall("weather", {"city": "Oslo"}, call_id="call_oslo"),
                ]
            ),
            Reply(text="Sunny in both."),
        ]
    )
    model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake_openai.client())
    await Runner.run(Agent(name="forecaster", model=model, tools=[weather]), "Paris and Oslo?")

    spans = traced.spans()
    tools = traced.named("execute_tool weather")
    assert sorted(t.attributes["gen_ai.tool.call.id"] for t in tools) == ["call_oslo", "call_paris"]
    by_call = {t.attributes["gen_ai.tool.call.id"]: t for t in tools}
    assert parent_of(traced.one("fetch Paris"), spans) is by_call["call_paris"]
    assert parent_of(traced.one("fetch Oslo"), spans) is by_call["call_oslo"]
    # they overlapped in time
    paris, oslo = by_call["call_paris"], by_call["call_oslo"]
    assert paris.start_time < oslo.end_time and oslo.start_time < paris.end_time


class _CurrentSpanWatcher(TracingProcessor):
    """The user's own SDK processor: it runs in the SDK's code right after a tool, handoff or
    guardrail returns, and notes which OTel span is current there."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, otel_trace.Span]] = []

    def on_span_end(self, span) -> None:
        kind = span.span_data.type
        if kind in ("function", "handoff", "guardrail"):
            self.seen.append((kind, otel_trace.get_current_span()))

    def on_trace_start(self, trace) -> None:
        pass

    def on_trace_end(self, trace) -> None:
        pass

    def on_span_start(self, span) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


class _CurrentSpanHooks(RunHooks):
    def __init__(self, seen: list[tuple[str, otel_trace.Span]]) -> None:
        self.seen = seen

    async def on_tool_end(self, context, agent, tool, result) -> None:
        self.seen.append(("on_tool_end", otel_trace.get_current_span()))

    async def on_handoff(self, context, from_agent, to_agent) -> None:
        self.seen.append(("on_handoff", otel_trace.get_current_span()))


async def test_after_a_tool_handoff_or_guardrail_returns_its_span_is_no_longer_current(
    traced: Traced, fake_openai: FakeOpenAI
):
    @input_guardrail
    async def polite(ctx, agent, user_input) -> GuardrailFunctionOutput:
        return GuardrailFunctionOutput(output_info=None, tripwire_triggered=False)

    @output_guardrail
    async def no_secrets(ctx, agent, output) -> GuardrailFunctionOutput:
        return GuardrailFunctionOutput(output_info=None, tripwire_triggered=False)

    triage = support_agents(fake_openai)
    triage.input_guardrails = [polite]
    triage.handoffs[0].output_guardrails = [no_secrets]
    fake_openai.script(SUPPORT_SCRIPT)
    watcher = _CurrentSpanWatcher()
    add_trace_processor(watcher)
    tracer = traced.tracer_provider.get_tracer("web")
    try:
        with tracer.start_as_current_span("POST /support") as caller:
            hooks = _CurrentSpanHooks(watcher.seen)
            await Runner.run(triage, "Refund order A7 please", hooks=hooks)
            after_the_run = otel_trace.get_current_span()
    finally:
        provider = get_trace_provider()
        set_trace_processors([p for p in provider._multi_processor._processors if p != watcher])

    places = {"function": 2, "on_tool_end": 2, "handoff": 1, "on_handoff": 1, "guardrail": 2}
    assert Counter(kind for kind, _ in watcher.seen) == places  # input and output guardrail
    ours = {s.context.span_id: s.name for s in traced.spans() if s.name != "POST /support"}
    current = [
        (kind, ours.get(span.get_span_context().span_id, "caller's")) for kind, span in watcher.seen
    ]
    assert current == [(kind, "caller's") for kind, _ in watcher.seen]
    assert all(span is caller for _, span in watcher.seen)
    assert after_the_run is caller
