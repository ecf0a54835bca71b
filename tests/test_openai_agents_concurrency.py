"""Runs at the same time, or one after another, whose agents share names but not their
descriptions or models: each agent span describes its own run's agent."""

from __future__ import annotations

import asyncio
from typing import Any

from agents import Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, RunConfig, Runner

from agent_fixtures import Traced, parent_of
from fake_openai import FakeOpenAI, Reply, Request, ToolCall


def _desk(fake: FakeOpenAI, desk: int) -> Agent[Any]:
    """triage hands off to billing; every desk's billing has its own description, and odd
    desks talk to their model through the Chat Completions API."""
    model_class = OpenAIChatCompletionsModel if desk % 2 else OpenAIResponsesModel
    model = model_class(model=f"gpt-desk-{desk}", openai_client=fake.client())
    billing = Agent(
        name="billing",
        instructions="You handle refunds.",
        handoff_description=f"Refunds for desk {desk}",
        model=model,
    )
    return Agent(name="triage", instructions="You route.", model=model, handoffs=[billing])


def _answer(request: Request) -> Reply:
    if request.instructions == "You route.":
        return Reply(tool_calls=[ToolCall("transfer_to_billing", {})])
    return Reply(text="Refunded.")


def _desk_of_each_billing_span(traced: Traced) -> list[tuple[str, str]]:
    spans = traced.spans()
    found = []
    for span in traced.named("invoke_agent billing"):
        workflow = parent_of(span, spans)
        assert workflow is not None
        found.append(
            (
                workflow.attributes["gen_ai.workflow.name"],
                span.attributes.get("gen_ai.agent.description", ""),
            )
        )
    return found


async def test_concurrent_runs_keep_their_own_agent_descriptions(
    traced: Traced, fake_openai: FakeOpenAI
):
    fake_openai.set_responder(_answer)
    desks = range(12)
    results = await asyncio.gather(
        *(
            Runner.run(
                _desk(fake_openai, d), "Refund", run_config=RunConfig(workflow_name=f"desk {d}")
            )
            for d in desks
        )
    )
    assert [r.final_output for r in results] == ["Refunded."] * len(desks)
    found = _desk_of_each_billing_span(traced)
    assert len(found) == len(desks)
    for workflow_name, description in found:
        assert description == f"Refunds for {workflow_name}"
    chats = traced.named("chat gpt-desk-3")
    assert len(chats) == 2
    assert all(c.attributes["gen_ai.request.model"] == "gpt-desk-3" for c in chats)


async def test_sequential_runs_keep_their_own_agent_descriptions(
    traced: Traced, fake_openai: FakeOpenAI
):
    fake_openai.set_responder(_answer)
    for desk in (1, 2):
        await Runner.run(
            _desk(fake_openai, desk), "Refund", run_config=RunConfig(workflow_name=f"desk {desk}")
        )
    assert sorted(_desk_of_each_billing_span(traced)) == [
        ("desk 1", "Refunds for desk 1"),
        ("desk 2", "Refunds for desk 2"),
    ]
