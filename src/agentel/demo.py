"""``agentel demo``: a small customer-support run through the real OpenAI Agents SDK.

A triage agent checks the input with a guardrail, looks the order up with a tool and hands
off to a billing agent, which issues a refund with another tool and answers. The run is
traced by agentel's instrumentor into the trace store, exactly as a user's app would be.
With ``OPENAI_API_KEY`` set the agents use a real OpenAI model; without it, an in-process
scripted model plays the same conversation so the demo works offline.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any

REAL_MODEL = "gpt-4.1-mini"
SCRIPTED_MODEL = "agentel-scripted-model"
WORKFLOW_NAME = "Customer support"
USER_INPUT = "My order #1234 arrived broken. Can I get a refund?"


@dataclass(frozen=True)
class DemoResult:
    trace_id: str | None
    offline: bool
    final_output: str | None
    error: str | None = None  # what made the run fail, in one line: "Type: message"


def _scripted_model() -> Any:
    """A ``Model`` that replays the demo conversation: no network, no key."""
    from agents import ModelResponse, Usage
    from agents.models.interface import Model
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    def tool_call(name: str, arguments: dict[str, Any]) -> ResponseFunctionToolCall:
        call_id = f"call_{uuid.uuid4().hex[:12]}"
        return ResponseFunctionToolCall(
            id=f"fc_{call_id}",
            call_id=call_id,
            name=name,
            arguments=json.dumps(arguments),
            type="function_call",
            status="completed",
        )

    def message(text: str) -> ResponseOutputMessage:
        return ResponseOutputMessage(
            id=f"msg_{uuid.uuid4().hex[:12]}",
            content=[ResponseOutputText(text=text, type="output_text", annotations=[])],
            role="assistant",
            status="completed",
            type="message",
        )

    script = [
        (tool_call("lookup_order", {"order_id": "1234"}), 182, 21),
        (tool_call("transfer_to_billing", {}), 241, 12),
        (tool_call("issue_refund", {"order_id": "1234", "amount_usd": 49.0}), 263, 30),
        (
            message(
                "I'm sorry your order arrived broken. I've issued a refund of $49.00 for "
                "order #1234; it will reach your card within 5 business days."
            ),
            318,
            41,
        ),
    ]

    class ScriptedDemoModel(Model):
        model = SCRIPTED_MODEL

        def __init__(self) -> None:
            self._steps = iter(script)

        async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
            output, input_tokens, output_tokens = next(self._steps)
            usage = Usage(
                requests=1,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                total_tokens=input_tokens + output_tokens,
            )
            return ModelResponse(output=[output], usage=usage, response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("the scripted demo model does not stream")

    return ScriptedDemoModel()


def build_agents(model: Any) -> Any:
    """The triage agent, with its tool, guardrail and handoff to billing."""
    from agents import Agent, GuardrailFunctionOutput, function_tool, input_guardrail

    @function_tool
    def lookup_order(order_id: str) -> str:
        """Look up an order by its number."""
        return json.dumps({"order_id": order_id, "item": "ceramic mug", "price_usd": 49.0})

    @function_tool
    def issue_refund(order_id: str, amount_usd: float) -> str:
        """Refund an order to the customer's card."""
        return json.dumps({"order_id": order_id, "refunded_usd": amount_usd, "status": "done"})

    @input_guardrail
    def no_card_numbers(context: Any, agent: Any, user_input: Any) -> GuardrailFunctionOutput:
        """Stop inputs that contain something like a card number."""
        digits = sum(ch.isdigit() for ch in str(user_input))
        return GuardrailFunctionOutput(
            output_info={"digits": digits}, tripwire_triggered=digits > 12
        )

    billing = Agent(
        name="Billing",
        handoff_description="Refunds and payment questions.",
        instructions="Refund broken orders with issue_refund, then tell the customer.",
        tools=[issue_refund],
        model=model,
    )
    return Agent(
        name="Triage",
        instructions=("Look the order up with lookup_order, then hand refund requests to Billing."),
        tools=[lookup_order],
        handoffs=[billing],
        input_guardrails=[no_card_numbers],
        model=model,
    )


def offline_by_default() -> bool:
    """Offline unless an OpenAI key is set."""
    return not os.environ.get("OPENAI_API_KEY")


def run_demo(
    store_url: str | None = None, *, capture_content: bool = True, offline: bool | None = None
) -> DemoResult:
    """Run the demo once, wait until its spans are in the store, and say what happened.

    A run that fails (the API unreachable, a bad key) is traced like any other: the result
    carries the error and the id of the failed run's trace instead of raising."""
    from agents import RunConfig, Runner
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    import agentel
    from agentel.store.exporter import StoreSpanExporter

    offline = offline_by_default() if offline is None else offline
    # The SDK logs a failed model call before raising it; the demo reports the failure
    # itself, in one line, so the log record needs no fallback printer on stderr.
    logging.getLogger("openai.agents").addHandler(logging.NullHandler())
    provider = TracerProvider(resource=Resource.create({"service.name": "agentel-demo"}))
    provider.add_span_processor(BatchSpanProcessor(StoreSpanExporter(store_url)))
    agentel.instrument(tracer_provider=provider, capture_content=capture_content)
    try:
        triage = build_agents(_scripted_model() if offline else REAL_MODEL)
        conversation_id = f"demo-{uuid.uuid4().hex[:8]}"
        config = RunConfig(
            workflow_name=WORKFLOW_NAME,
            group_id=conversation_id,
            trace_metadata={"source": "agentel demo"},
        )
        try:
            result = asyncio.run(Runner.run(triage, USER_INPUT, run_config=config))
            final_output, error = str(result.final_output), None
        except Exception as exc:  # the failure is the trace's subject: report it, do not raise
            final_output, error = None, _one_line(exc)
    finally:
        agentel.uninstrument()
        provider.shutdown()
    from agentel.store import open_store

    with open_store(store_url) as store:
        found = store.get_traces(conversation_id=conversation_id, limit=1)
    return DemoResult(found[0].trace_id if found else None, offline, final_output, error)


def _one_line(exc: BaseException) -> str:
    """``APIConnectionError: Connection error (ConnectError: All connection attempts
    failed)``: the exception and the one beneath it, which often says what really failed."""
    text = _describe(exc)
    cause = exc.__cause__ or exc.__context__
    return f"{text} ({_describe(cause)})" if cause is not None else text


def _describe(exc: BaseException) -> str:
    message = " ".join(str(exc).split()).rstrip(".")
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
