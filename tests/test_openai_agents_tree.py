"""The success tree: one run of the support scenario, as a user sees it in a trace view."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agents import Agent, ModelSettings, OpenAIResponsesModel, RunConfig, Runner
from opentelemetry.trace import SpanKind, StatusCode

from agent_fixtures import SUPPORT_SCRIPT, Traced, parent_of, support_agents, tree
from fake_openai import FakeOpenAI, Reply

EXPECTED_TREE = [
    "invoke_workflow Support desk",
    "  invoke_agent triage",
    "    chat gpt-4o",
    "    execute_tool lookup_order",
    "    chat gpt-4o",
    "    execute_tool transfer_to_billing",
    "  invoke_agent billing",
    "    chat gpt-4o",
    "    execute_tool refund",
    "    chat gpt-4o",
]


async def _run(mode: str, agent: Any, config: RunConfig) -> Any:
    if mode == "run":
        return await Runner.run(agent, "Refund order A7 please", run_config=config)
    if mode == "run_sync":
        # run_sync needs a thread without a running loop, as in a plain script
        return await asyncio.to_thread(
            Runner.run_sync, agent, "Refund order A7 please", run_config=config
        )
    result = Runner.run_streamed(agent, "Refund order A7 please", run_config=config)
    async for _ in result.stream_events():
        pass
    return result


@pytest.mark.parametrize("mode", ["run", "run_sync", "run_streamed"])
async def test_success_tree_and_attributes(traced: Traced, fake_openai: FakeOpenAI, mode: str):
    fake_openai.script(SUPPORT_SCRIPT)
    config = RunConfig(
        workflow_name="Support desk", group_id="conv-42", trace_metadata={"tier": "gold"}
    )
    result = await _run(mode, support_agents(fake_openai), config)

    assert result.final_output == "Refunded 5.5 on order A7."
    spans = traced.spans()
    assert tree(spans) == EXPECTED_TREE
    assert len({s.context.trace_id for s in spans}) == 1
    assert all(s.attributes["gen_ai.conversation.id"] == "conv-42" for s in spans)
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)

    workflow = traced.one("invoke_workflow Support desk")
    assert workflow.parent is None
    assert workflow.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert workflow.attributes["gen_ai.workflow.name"] == "Support desk"
    assert workflow.attributes["agentel.metadata.tier"] == "gold"
    assert workflow.attributes["gen_ai.usage.input_tokens"] == 540
    assert workflow.attributes["gen_ai.usage.output_tokens"] == 50
    assert workflow.attributes["gen_ai.usage.cache_read.input_tokens"] == 40
    assert workflow.attributes["gen_ai.usage.reasoning.output_tokens"] == 6
    assert "gen_ai.request.model" not in workflow.attributes

    triage = traced.one("invoke_agent triage")
    billing = traced.one("invoke_agent billing")
    for agent_span in (triage, billing):
        assert agent_span.kind is SpanKind.INTERNAL
        assert agent_span.attributes["gen_ai.operation.name"] == "invoke_agent"
        assert agent_span.attributes["gen_ai.provider.name"] == "openai"
        assert agent_span.attributes["gen_ai.output.type"] == "text"
        assert "gen_ai.request.model" not in agent_span.attributes
    assert triage.attributes["gen_ai.agent.name"] == "triage"
    assert billing.attributes["gen_ai.agent.description"] == "Refunds and invoices"
    assert triage.attributes["gen_ai.usage.input_tokens"] == 220
    assert triage.attributes["gen_ai.usage.cache_read.input_tokens"] == 40
    assert billing.attributes["gen_ai.usage.input_tokens"] == 320
    assert billing.attributes["gen_ai.usage.output_tokens"] == 32
    assert triage.end_time <= billing.start_time

    chats = traced.named("chat gpt-4o")
    assert [parent_of(c, spans).name for c in chats] == [
        "invoke_agent triage",
        "invoke_agent triage",
        "invoke_agent billing",
        "invoke_agent billing",
    ]
    first = chats[0]
    assert first.kind is SpanKind.CLIENT
    assert first.attributes["gen_ai.operation.name"] == "chat"
    assert first.attributes["gen_ai.provider.name"] == "openai"
    assert first.attributes["gen_ai.request.model"] == "gpt-4o"
    assert first.attributes["gen_ai.request.stream"] is (mode == "run_streamed")
    assert first.attributes["gen_ai.response.model"] == "gpt-4o-2025-01-01"
    assert first.attributes["gen_ai.response.id"].startswith("resp_")
    assert first.attributes["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert first.attributes["gen_ai.usage.input_tokens"] == 100
    assert first.attributes["gen_ai.usage.output_tokens"] == 10
    assert first.attributes["gen_ai.usage.cache_read.input_tokens"] == 40
    assert first.attributes["server.address"] == "127.0.0.1"
    assert first.attributes["server.port"] == int(fake_openai.base_url.split(":")[2].split("/")[0])
    assert chats[2].attributes["gen_ai.usage.reasoning.output_tokens"] == 6
    assert chats[3].attributes["gen_ai.response.finish_reasons"] == ("stop",)
    if mode == "run_streamed":
        assert first.attributes["gen_ai.response.time_to_first_chunk"] >= 0
    # no content unless asked for
    assert not any(k.startswith("gen_ai.input") for s in spans for k in s.attributes)

    lookup = traced.one("execute_tool lookup_order")
    assert lookup.attributes["gen_ai.operation.name"] == "execute_tool"
    assert lookup.attributes["gen_ai.tool.name"] == "lookup_order"
    assert lookup.attributes["gen_ai.tool.type"] == "function"
    assert lookup.attributes["gen_ai.tool.call.id"] == "call_lookup"
    assert lookup.attributes["gen_ai.tool.description"] == "Look up an order by its id."
    assert lookup.attributes["gen_ai.agent.name"] == "triage"
    assert "gen_ai.tool.call.arguments" not in lookup.attributes
    assert traced.one("execute_tool refund").attributes["gen_ai.agent.name"] == "billing"

    handoff = traced.one("execute_tool transfer_to_billing")
    assert handoff.attributes["gen_ai.tool.type"] == "handoff"
    assert handoff.attributes["gen_ai.tool.name"] == "transfer_to_billing"
    assert handoff.attributes["gen_ai.tool.call.id"] == "call_handoff"
    assert handoff.attributes["agentel.handoff.from_agent"] == "triage"
    assert handoff.attributes["agentel.handoff.to_agent"] == "billing"


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_completions_model(traced: Traced, fake_openai: FakeOpenAI, stream: bool):
    fake_openai.script(SUPPORT_SCRIPT)
    agent = support_agents(fake_openai, api="chat")
    config = RunConfig(
        workflow_name="Support desk", model_settings=ModelSettings(include_usage=True)
    )
    if stream:
        result = Runner.run_streamed(agent, "Refund order A7 please", run_config=config)
        async for _ in result.stream_events():
            pass
    else:
        result = await Runner.run(agent, "Refund order A7 please", run_config=config)

    assert result.final_output == "Refunded 5.5 on order A7."
    assert all(r.path == "/v1/chat/completions" for r in fake_openai.requests)
    spans = traced.spans()
    assert tree(spans) == EXPECTED_TREE
    chats = traced.named("chat gpt-4o")
    assert [c.attributes["gen_ai.usage.input_tokens"] for c in chats] == [100, 120, 150, 170]
    assert chats[0].attributes["gen_ai.usage.cache_read.input_tokens"] == 40
    assert chats[0].attributes["gen_ai.provider.name"] == "openai"
    assert chats[0].attributes["gen_ai.request.stream"] is stream
    assert chats[0].attributes["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert traced.one("invoke_workflow Support desk").attributes["gen_ai.usage.output_tokens"] == 50
    # The server's own completion ids and model, never the SDK's placeholder id.
    assert [c.attributes.get("gen_ai.response.id") for c in chats] == [
        f"chatcmpl-{n}" for n in range(1, 5)
    ]
    assert {c.attributes.get("gen_ai.response.model") for c in chats} == {"gpt-4o-2025-01-01"}


async def test_request_settings_become_attributes(traced: Traced, fake_openai: FakeOpenAI):
    fake_openai.script(SUPPORT_SCRIPT)
    settings = ModelSettings(
        temperature=0.2, top_p=0.9, max_tokens=300, frequency_penalty=0.1, presence_penalty=0.3
    )
    await Runner.run(
        support_agents(fake_openai), "hi", run_config=RunConfig(model_settings=settings)
    )
    chat = traced.named("chat gpt-4o")[0]
    assert chat.attributes["gen_ai.request.temperature"] == 0.2
    assert chat.attributes["gen_ai.request.top_p"] == 0.9
    assert chat.attributes["gen_ai.request.max_tokens"] == 300
    assert chat.attributes["gen_ai.request.frequency_penalty"] == 0.1
    assert chat.attributes["gen_ai.request.presence_penalty"] == 0.3


async def test_metrics_follow_the_semconv(traced: Traced, fake_openai: FakeOpenAI):
    fake_openai.script(SUPPORT_SCRIPT)
    await Runner.run(support_agents(fake_openai), "hi")

    durations = traced.metric_points("gen_ai.client.operation.duration")
    assert sum(p.count for p in durations) == 4
    attributes = durations[0].attributes
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "gpt-4o"
    assert attributes["gen_ai.response.model"] == "gpt-4o-2025-01-01"
    assert list(durations[0].explicit_bounds)[:3] == [0.01, 0.02, 0.04]
    tokens = {
        p.attributes["gen_ai.token.type"]: p.sum
        for p in traced.metric_points("gen_ai.client.token.usage")
    }
    assert tokens == {"input": 540, "output": 50}
    agents = {
        p.attributes["gen_ai.agent.name"]: p.count
        for p in traced.metric_points("gen_ai.invoke_agent.duration")
    }
    assert agents == {"triage": 1, "billing": 1}
    tools = {
        p.attributes["gen_ai.tool.name"]
        for p in traced.metric_points("gen_ai.execute_tool.duration")
    }
    assert tools == {"lookup_order", "transfer_to_billing", "refund"}


async def test_server_side_conversation_id_names_the_conversation(
    traced: Traced, fake_openai: FakeOpenAI
):
    fake_openai.script([Reply(text="Hello again.")])
    model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake_openai.client())
    await Runner.run(Agent(name="greeter", model=model), "hi", conversation_id="conv_srv_1")
    assert fake_openai.requests[0].body.get("conversation") == "conv_srv_1"
    assert traced.one("chat gpt-4o").attributes["gen_ai.conversation.id"] == "conv_srv_1"
