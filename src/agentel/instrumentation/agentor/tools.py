"""Tool calls: one ``execute_tool`` span per ``Tool.call``, named by the call the model made.

``Tool.call`` does not know which call it answers; the loop's ``tool_call`` events, which
precede the tools' execution, do (see :meth:`AgentorRun.take_call_id`). A tool's exception is
recorded here, where it happened, before Agentor turns it into a message for the model.
"""

from __future__ import annotations

from typing import Any

from agentel import content
from agentel import semconv as sc
from agentel.instrumentation.core.attributes import tool_result
from agentel.instrumentation.core.guest import argument, call_within_async, guarded, safely
from agentel.instrumentation.core.nodes import TOOL, Node
from agentel.instrumentation.core.scope import record
from agentel.instrumentation.core.telemetry import Telemetry

from .runtime import ACTIVE, RUNTIME, Active, AgentorRun


async def wrap_tool_call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    telemetry = RUNTIME.telemetry
    active = ACTIVE.get()
    if telemetry is None or active is None or active.node is None or active.run is None:
        return await wrapped(*args, **kwargs)  # outside a traced run
    run = active.run
    node = guarded(_start, "tool", telemetry, run, active.node, instance, args, kwargs)
    if node is None:
        return await wrapped(*args, **kwargs)
    try:
        result = await call_within_async(
            node.otel_context(),
            lambda exc: record(node, exc, run),
            wrapped,
            args,
            kwargs,
            (ACTIVE, Active(node, run)),
        )
    except BaseException:
        safely(lambda: telemetry.finish(node), "tool-end")
        raise
    if node.content_started:
        limit = telemetry.content.max_length
        safely(
            lambda: node.span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, tool_result(result, limit)),
            "tool-result",
        )
    safely(lambda: telemetry.finish(node), "tool-end")
    return result


def _start(
    telemetry: Telemetry, run: AgentorRun, parent: Node, tool: Any, args: Any, kwargs: Any
) -> Node:
    name = str(getattr(tool, "name", None) or type(tool).__name__)
    arguments = argument(args, kwargs, "args", 0)
    server = mcp_server_of(tool)
    attributes: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
        sc.GEN_AI_TOOL_NAME: name,
        sc.GEN_AI_TOOL_TYPE: sc.TOOL_TYPE_FUNCTION if server is None else sc.TOOL_TYPE_EXTENSION,
    }
    if server:
        attributes[sc.AGENTEL_MCP_SERVER] = server
    call_id = run.take_call_id(name, arguments)
    if call_id:
        attributes[sc.GEN_AI_TOOL_CALL_ID] = call_id
    description = getattr(tool, "description", None)
    if description:
        attributes[sc.GEN_AI_TOOL_DESCRIPTION] = str(description)
    agent = parent.agent
    if agent is not None and agent.name:
        attributes[sc.GEN_AI_AGENT_NAME] = agent.name
    settings = telemetry.content
    if settings.capture.on_span:
        attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = content.to_json(arguments, settings.max_length)
    node = telemetry.start_node(TOOL, f"{sc.OP_EXECUTE_TOOL} {name}", "", parent, attributes)
    node.name = name
    node.tool_type = attributes[sc.GEN_AI_TOOL_TYPE]
    node.content_started = settings.capture.on_span
    return node


def mcp_server_of(tool: Any) -> str | None:
    """The MCP server's name for a tool Agentor made from one (its invoker is a closure of
    ``MCPServer._invoker`` holding the server), else None."""
    invoke = getattr(tool, "invoke", None)
    if not getattr(invoke, "__qualname__", "").startswith("MCPServer._invoker."):
        return None
    for cell in getattr(invoke, "__closure__", None) or ():
        try:
            holder = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if type(holder).__name__ == "MCPServer":
            return str(getattr(holder, "name", "") or "")
    return ""
