"""An offline multi-agent run, traced by agentel into the trace store and printed as its
span tree, exactly as ``agentel show --last`` prints it.

triage -> lookup_order tool -> handoff to billing -> refund tool -> answer, with an input
guardrail. The models are the SDK's own scripted test model, so no network or API key is
needed; swap in a real model name (``model="gpt-4.1-mini"``) and the trace stays the same.
The trace is kept in ./agentel.db (or ``AGENTEL_DB``), where the ``agentel`` command finds it.

    python examples/quickstart.py
"""

from __future__ import annotations

from agents import (
    Agent,
    GuardrailFunctionOutput,
    RunConfig,
    Runner,
    Usage,
    function_tool,
    input_guardrail,
)
from agents.testing import ScriptedModel, assistant_message, function_call

import agentel
from agentel.cli_tree import print_trace
from agentel.store import open_store

CONVERSATION = "conversation-1"


@function_tool
def lookup_order(order_id: str) -> str:
    """Look up an order by its id."""
    return f"order {order_id}: delivered, arrived damaged"


@function_tool
def refund(order_id: str, amount: float) -> str:
    """Refund part of an order."""
    return f"refunded {amount} USD on order {order_id}"


@input_guardrail
async def no_card_numbers(ctx, agent, user_input) -> GuardrailFunctionOutput:
    """Stop messages that look like they contain a card number."""
    digits = sum(ch.isdigit() for ch in str(user_input))
    return GuardrailFunctionOutput(output_info={"digits": digits}, tripwire_triggered=digits > 12)


# What the scripted model reports for each call, so the tree shows token counts.
USAGE = Usage(requests=1, input_tokens=180, output_tokens=24, total_tokens=204)


def build_agents() -> Agent:
    billing = Agent(
        name="billing",
        instructions="You issue refunds.",
        handoff_description="Refunds and invoices",
        tools=[refund],
        model=ScriptedModel(
            [
                [function_call("refund", {"order_id": "A7", "amount": 25.0}, call_id="call_2")],
                [assistant_message("I refunded 25 USD for order A7.")],
            ],
            default_usage=USAGE,
        ),
    )
    return Agent(
        name="triage",
        instructions="You route customer requests.",
        tools=[lookup_order],
        handoffs=[billing],
        input_guardrails=[no_card_numbers],
        model=ScriptedModel(
            [
                [function_call("lookup_order", {"order_id": "A7"}, call_id="call_1")],
                [function_call("transfer_to_billing", {}, call_id="call_h")],
            ],
            default_usage=USAGE,
        ),
    )


def main() -> None:
    pipeline = agentel.setup(exporters=["sqlite"], service_name="quickstart")
    result = Runner.run_sync(
        build_agents(),
        "My order A7 arrived damaged, can I get a refund?",
        run_config=RunConfig(workflow_name="Support desk", group_id=CONVERSATION),
    )
    print(f"final output: {result.final_output}\n")
    pipeline.shutdown()  # flushes: every span is in the store now
    with open_store(read_only=True) as store:
        newest = store.get_traces(conversation_id=CONVERSATION, limit=1)[0]
        print_trace(store.get_trace(newest.trace_id))
    print("\nRecorded in the trace store: `agentel show --last` shows it again.")


if __name__ == "__main__":
    main()
