"""Failures: the real exception where it happened, ERROR up the tree when the run fails."""

from __future__ import annotations

import openai
import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    input_guardrail,
    trace,
)
from opentelemetry.trace import StatusCode

from agent_fixtures import Traced, parent_of
from fake_openai import FakeOpenAI, Reply, ToolCall


@function_tool
def flaky_inventory(sku: str) -> str:
    """Check stock for a SKU."""
    raise LookupError(f"warehouse unreachable for {sku}")


@function_tool(failure_error_function=None)
def strict_inventory(sku: str) -> str:
    """Check stock for a SKU, failing the run on error."""
    raise LookupError(f"warehouse unreachable for {sku}")


def _agent(fake: FakeOpenAI, **kwargs) -> Agent:
    model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake.client())
    return Agent(name="stock", instructions="Check stock.", model=model, **kwargs)


def _exception_event(span):
    events = [e for e in span.events if e.name == "exception"]
    assert len(events) == 1, [e.name for e in span.events]
    return events[0].attributes


async def test_tool_error_turned_into_message_marks_tool_and_run_goes_on(
    traced: Traced, fake_openai: FakeOpenAI
):
    fake_openai.script(
        [Reply(tool_calls=[ToolCall("flaky_inventory", {"sku": "X1"})]), Reply(text="Out of luck.")]
    )
    result = await Runner.run(_agent(fake_openai, tools=[flaky_inventory]), "stock of X1?")

    assert result.final_output == "Out of luck."
    tool = traced.one("execute_tool flaky_inventory")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes["error.type"] == "LookupError"
    event = _exception_event(tool)
    assert event["exception.type"] == "LookupError"
    assert event["exception.message"] == "warehouse unreachable for X1"
    assert "in flaky_inventory" in event["exception.stacktrace"]
    # the model was told and answered: the agent and the workflow succeeded
    assert traced.one("invoke_agent stock").status.status_code is StatusCode.UNSET
    assert traced.one("invoke_workflow Agent workflow").status.status_code is StatusCode.UNSET


async def test_tool_exception_that_fails_the_run(traced: Traced, fake_openai: FakeOpenAI):
    fake_openai.script([Reply(tool_calls=[ToolCall("strict_inventory", {"sku": "X1"})])])
    with pytest.raises(Exception) as raised:
        await Runner.run(_agent(fake_openai, tools=[strict_inventory]), "stock of X1?")

    tool = traced.one("execute_tool strict_inventory")
    assert tool.status.status_code is StatusCode.ERROR
    assert _exception_event(tool)["exception.type"] == "LookupError"
    run_error = f"{type(raised.value).__module__}.{type(raised.value).__qualname__}"
    for name in ("invoke_agent stock", "invoke_workflow Agent workflow"):
        span = traced.one(name)
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == run_error
    # recorded once, where it happened, not again on the agent
    assert not [e for e in traced.one("invoke_agent stock").events if e.name == "exception"]


async def test_http_500_marks_model_call_agent_and_workflow(
    traced: Traced, fake_openai: FakeOpenAI
):
    fake_openai.script([Reply(status=500, error_message="upstream exploded")])
    with pytest.raises(Exception) as raised:
        await Runner.run(_agent(fake_openai), "hello")

    assert type(raised.value).__name__ == "InternalServerError"
    chat = traced.one("chat gpt-4o")
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes["error.type"] == "openai.InternalServerError"
    event = _exception_event(chat)
    assert "upstream exploded" in event["exception.message"]
    assert "Traceback" in event["exception.stacktrace"]
    for name in ("invoke_agent stock", "invoke_workflow Agent workflow"):
        span = traced.one(name)
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == "openai.InternalServerError"
    duration = traced.metric_points("gen_ai.client.operation.duration")[0]
    assert duration.attributes["error.type"] == "openai.InternalServerError"


async def test_max_turns_exceeded(traced: Traced, fake_openai: FakeOpenAI):
    @function_tool
    def ping() -> str:
        """Ping."""
        return "pong"

    fake_openai.set_responder(lambda request: Reply(tool_calls=[ToolCall("ping", {})]))
    with pytest.raises(MaxTurnsExceeded):
        await Runner.run(_agent(fake_openai, tools=[ping]), "loop", max_turns=2)

    agent = traced.one("invoke_agent stock")
    assert agent.status.status_code is StatusCode.ERROR
    assert agent.attributes["error.type"] == "agents.exceptions.MaxTurnsExceeded"
    assert _exception_event(agent)["exception.type"] == "agents.exceptions.MaxTurnsExceeded"
    workflow = traced.one("invoke_workflow Agent workflow")
    assert workflow.status.status_code is StatusCode.ERROR
    assert workflow.attributes["error.type"] == "agents.exceptions.MaxTurnsExceeded"
    assert len(traced.named("chat gpt-4o")) == 2


async def test_guardrail_tripwire(traced: Traced, fake_openai: FakeOpenAI):
    @input_guardrail
    async def no_card_numbers(ctx, agent, user_input) -> GuardrailFunctionOutput:
        digits = sum(ch.isdigit() for ch in str(user_input))
        return GuardrailFunctionOutput(output_info=None, tripwire_triggered=digits > 12)

    fake_openai.script([Reply(text="never used")])
    agent = _agent(fake_openai, input_guardrails=[no_card_numbers])
    with pytest.raises(InputGuardrailTripwireTriggered):
        await Runner.run(agent, "my card is 4111 1111 1111 1111")

    guardrail = traced.one("apply_guardrail no_card_numbers")
    assert guardrail.attributes["gen_ai.operation.name"] == "apply_guardrail"
    assert guardrail.attributes["gen_ai.guardrail.component.name"] == "no_card_numbers"
    assert guardrail.attributes["gen_ai.guardrail.source"] == "input"
    assert guardrail.attributes["gen_ai.guardrail.result.type"] == "tripwire_triggered"
    assert guardrail.attributes["gen_ai.guardrail.result.value"] == "true"
    agent_span = traced.one("invoke_agent stock")
    assert parent_of(guardrail, traced.spans()) is agent_span
    assert agent_span.status.status_code is StatusCode.ERROR
    assert (
        agent_span.attributes["error.type"] == "agents.exceptions.InputGuardrailTripwireTriggered"
    )
    event = next(e for e in agent_span.events if e.name == "gen_ai.guardrail.result")
    assert event.attributes["gen_ai.guardrail.result.value"] == "true"
    workflow = traced.one("invoke_workflow Agent workflow")
    assert workflow.status.status_code is StatusCode.ERROR


async def test_passing_guardrail_is_recorded_as_false(traced: Traced, fake_openai: FakeOpenAI):
    @input_guardrail
    async def polite(ctx, agent, user_input) -> GuardrailFunctionOutput:
        return GuardrailFunctionOutput(output_info=None, tripwire_triggered=False)

    fake_openai.script([Reply(text="Hello!")])
    await Runner.run(_agent(fake_openai, input_guardrails=[polite]), "hi")
    guardrail = traced.one("apply_guardrail polite")
    assert guardrail.attributes["gen_ai.guardrail.result.value"] == "false"
    assert guardrail.status.status_code is StatusCode.UNSET
    assert traced.one("invoke_agent stock").status.status_code is StatusCode.UNSET


async def test_streamed_run_failure_marks_agent_and_workflow(
    traced: Traced, fake_openai: FakeOpenAI
):
    fake_openai.script([Reply(status=500)])
    result = Runner.run_streamed(_agent(fake_openai), "hello")
    with pytest.raises(openai.InternalServerError):
        async for _ in result.stream_events():
            pass
    assert traced.one("chat gpt-4o").status.status_code is StatusCode.ERROR
    assert traced.one("invoke_agent stock").status.status_code is StatusCode.ERROR
    assert traced.one("invoke_workflow Agent workflow").status.status_code is StatusCode.ERROR


async def test_a_failed_tools_duration_metric_carries_its_error_type(
    traced: Traced, fake_openai: FakeOpenAI
):
    fake_openai.script(
        [Reply(tool_calls=[ToolCall("flaky_inventory", {"sku": "X1"})]), Reply(text="Out of luck.")]
    )
    await Runner.run(_agent(fake_openai, tools=[flaky_inventory]), "stock of X1?")

    [point] = traced.metric_points("gen_ai.execute_tool.duration")
    assert dict(point.attributes) == {
        "gen_ai.tool.name": "flaky_inventory",
        "gen_ai.tool.type": "function",
        "gen_ai.agent.name": "stock",
        "error.type": "LookupError",
    }
    assert point.count == 1


async def test_a_run_failing_inside_the_users_own_trace_marks_that_workflow(
    traced: Traced, fake_openai: FakeOpenAI
):
    """The workflow span belongs to the user's ``with trace(...)``: it ends after the run, when
    the block exits, and must still say that the run inside it failed."""
    fake_openai.script([Reply(status=500, error_message="upstream exploded")])
    with trace("Nightly stock check"):
        with pytest.raises(openai.InternalServerError):
            await Runner.run(_agent(fake_openai), "stock of X1?")
        assert traced.named("invoke_workflow Nightly stock check") == []  # still open

    workflow = traced.one("invoke_workflow Nightly stock check")
    assert workflow.status.status_code is StatusCode.ERROR
    assert workflow.attributes["error.type"] == "openai.InternalServerError"
    agent = traced.one("invoke_agent stock")
    assert agent.status.status_code is StatusCode.ERROR
    assert parent_of(agent, traced.spans()) is workflow
