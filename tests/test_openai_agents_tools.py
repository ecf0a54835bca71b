"""MCP tool calls and tool guardrails."""

from __future__ import annotations

from typing import Any

from agents import (
    Agent,
    OpenAIResponsesModel,
    Runner,
    ToolGuardrailFunctionOutput,
    function_tool,
    tool_input_guardrail,
    tool_output_guardrail,
)
from agents.mcp import MCPServer
from mcp.types import CallToolResult, GetPromptResult, ListPromptsResult, TextContent, Tool
from opentelemetry import trace as otel_trace

from agent_fixtures import Traced, parent_of, tree
from fake_openai import FakeOpenAI, Reply, ToolCall


class DocsServer(MCPServer):
    """An in-process MCP server with one tool, standing in for a real stdio/HTTP server."""

    def __init__(self, tracer: otel_trace.Tracer) -> None:
        super().__init__()
        self.tracer = tracer
        self.calls: list[tuple[str, Any]] = []

    @property
    def name(self) -> str:
        return "docs"

    async def connect(self) -> None:
        return None

    async def cleanup(self) -> None:
        return None

    async def list_tools(self, run_context=None, agent=None) -> list[Tool]:
        schema = {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        }
        return [Tool(name="search_docs", description="Search the docs.", inputSchema=schema)]

    async def call_tool(self, tool_name, arguments, meta=None) -> CallToolResult:
        with self.tracer.start_as_current_span("mcp transport call"):
            self.calls.append((tool_name, arguments))
            return CallToolResult(content=[TextContent(type="text", text="Refunds take 5 days.")])

    async def list_prompts(self) -> ListPromptsResult:
        return ListPromptsResult(prompts=[])

    async def get_prompt(self, name, arguments=None) -> GetPromptResult:
        raise NotImplementedError


async def test_mcp_tool_call(traced: Traced, fake_openai: FakeOpenAI):
    server = DocsServer(traced.tracer_provider.get_tracer("mcp-client"))
    fake_openai.script(
        [
            Reply(tool_calls=[ToolCall("search_docs", {"query": "refund"}, call_id="call_mcp")]),
            Reply(text="About 5 days."),
        ]
    )
    model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake_openai.client())
    agent = Agent(name="helpdesk", model=model, mcp_servers=[server])
    result = await Runner.run(agent, "how long do refunds take?")

    assert result.final_output == "About 5 days."
    assert server.calls == [("search_docs", {"query": "refund"})]
    spans = traced.spans()
    assert tree(spans) == [
        "invoke_workflow Agent workflow",
        "  invoke_agent helpdesk",
        "    chat gpt-4o",
        "    execute_tool search_docs",
        "      mcp transport call",
        "    chat gpt-4o",
    ]
    tool = traced.one("execute_tool search_docs")
    assert tool.attributes["gen_ai.tool.type"] == "extension"
    assert tool.attributes["gen_ai.tool.call.id"] == "call_mcp"
    assert tool.attributes["agentel.mcp.server"] == "docs"
    assert parent_of(traced.one("mcp transport call"), spans) is tool
    tool_metrics = traced.metric_points("gen_ai.execute_tool.duration")
    assert tool_metrics[0].attributes["gen_ai.tool.type"] == "extension"


@tool_input_guardrail
def block_large_refunds(data) -> ToolGuardrailFunctionOutput:
    if '"amount":500' in data.context.tool_arguments.replace(" ", ""):
        return ToolGuardrailFunctionOutput.reject_content("Refunds over 100 need a manager.")
    return ToolGuardrailFunctionOutput.allow()


@tool_output_guardrail
def no_internal_ids(data) -> ToolGuardrailFunctionOutput:
    return ToolGuardrailFunctionOutput.allow()


@function_tool(
    tool_input_guardrails=[block_large_refunds], tool_output_guardrails=[no_internal_ids]
)
def issue_refund(order_id: str, amount: int) -> str:
    """Issue a refund."""
    return f"refunded {amount} on {order_id}"


async def test_tool_guardrails(traced: Traced, fake_openai: FakeOpenAI):
    fake_openai.script(
        [
            Reply(tool_calls=[ToolCall("issue_refund", {"order_id": "A7", "amount": 20})]),
            Reply(tool_calls=[ToolCall("issue_refund", {"order_id": "A7", "amount": 500})]),
            Reply(text="Done."),
        ]
    )
    model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake_openai.client())
    await Runner.run(Agent(name="billing", model=model, tools=[issue_refund]), "refund")

    spans = traced.spans()
    inputs = traced.named("apply_guardrail block_large_refunds")
    assert [s.attributes["gen_ai.guardrail.result.value"] for s in inputs] == ["false", "true"]
    for span in inputs:
        assert span.attributes["gen_ai.guardrail.source"] == "tool_input"
        assert span.attributes["gen_ai.operation.name"] == "apply_guardrail"
        assert parent_of(span, spans).name == "execute_tool issue_refund"
    outputs = traced.named("apply_guardrail no_internal_ids")
    assert len(outputs) == 1  # the rejected call never ran, so its output was never checked
    assert outputs[0].attributes["gen_ai.guardrail.source"] == "tool_output"
    assert outputs[0].attributes["gen_ai.guardrail.result.value"] == "false"
    agent_events = traced.one("invoke_agent billing").events
    assert [
        (
            e.attributes["gen_ai.guardrail.component.name"],
            e.attributes["gen_ai.guardrail.result.value"],
        )
        for e in agent_events
    ] == [
        ("block_large_refunds", "false"),
        ("no_internal_ids", "false"),
        ("block_large_refunds", "true"),
    ]
