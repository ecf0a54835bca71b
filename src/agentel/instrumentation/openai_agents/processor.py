"""The SDK ``TracingProcessor`` that mirrors SDK traces and spans as OTel spans.

Only the SDK knows where a workflow, an agent segment, a tool call or a guardrail check begins
and ends, so those spans are made here. The processor never attaches OTel context (its
callbacks are not a call that wraps the work); the wrappers do that, finding the spans made
here through the core Telemetry's id map. Every callback swallows its own errors: the SDK
calls us synchronously in the middle of the user's run.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind

from agentel import semconv as sc
from agentel.instrumentation.core import nodes as kinds
from agentel.instrumentation.core.attributes import metadata_attributes
from agentel.instrumentation.core.guest import log_once
from agentel.instrumentation.core.nodes import Node, add_usage_up, mark_error, usage_attributes
from agentel.instrumentation.core.scope import RUN_SCOPE
from agentel.instrumentation.core.telemetry import Telemetry

from . import state

try:  # the base class only matters for isinstance checks inside the SDK
    from agents.tracing import TracingProcessor as _Base
except ImportError:  # pragma: no cover - the instrumentor is not used without the SDK
    _Base = object  # type: ignore[assignment,misc]

# SDK span types with no span of their own: their children hang on the nearest mapped parent.
_PASS_THROUGH = frozenset({"task", "turn", "mcp_tools", "speech_group"})


class OTelBridgeProcessor(_Base):  # type: ignore[misc,valid-type]
    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    # --- traces -> workflow spans ---------------------------------------------------------
    def on_trace_start(self, trace: Any) -> None:
        try:
            self._start_workflow(trace)
        except Exception:
            log_once("trace-start", "agentel: could not start a workflow span")

    def _start_workflow(self, trace: Any) -> None:
        name = trace.name
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_WORKFLOW,
            sc.GEN_AI_WORKFLOW_NAME: name,
        }
        group_id = getattr(trace, "group_id", None)
        if group_id:
            attributes[sc.GEN_AI_CONVERSATION_ID] = group_id
        attributes.update(metadata_attributes(getattr(trace, "metadata", None)))
        node = self.telemetry.start_node(
            kinds.WORKFLOW, f"{sc.OP_INVOKE_WORKFLOW} {name}", trace.trace_id, None, attributes
        )
        node.name = name
        self.telemetry.nodes[trace.trace_id] = node

    def on_trace_end(self, trace: Any) -> None:
        try:
            node = self.telemetry.nodes.pop(trace.trace_id, None)
            if node is not None:
                self._end_deferrable(node)
        except Exception:
            log_once("trace-end", "agentel: could not end a workflow span")

    # --- spans ----------------------------------------------------------------------------
    def on_span_start(self, span: Any) -> None:
        try:
            self._start_span(span)
        except Exception:
            log_once("span-start", "agentel: could not start a span")

    def _start_span(self, span: Any) -> None:
        telemetry = self.telemetry
        nodes = telemetry.nodes
        parent = nodes.get(span.parent_id) if span.parent_id else None
        if parent is None:
            parent = nodes.get(span.trace_id)
            if parent is None:
                return  # a trace we did not see start (tracing was off, or began earlier)
        data = span.span_data
        span_type = data.type
        if span_type == "agent":
            node = self._start_agent(data, span.span_id, parent)
        elif span_type == "function":
            node = self._start_tool(data, span.span_id, parent)
        elif span_type in ("response", "generation"):
            node = self._adopt_or_start_model(data, span.span_id, parent)
        elif span_type == "handoff":
            node = self._start_handoff(data, span.span_id, parent)
        elif span_type == "guardrail":
            attributes = {
                sc.GEN_AI_OPERATION_NAME: sc.OP_APPLY_GUARDRAIL,
                sc.GEN_AI_GUARDRAIL_COMPONENT_NAME: data.name,
            }
            name = f"{sc.OP_APPLY_GUARDRAIL} {data.name}"
            node = telemetry.start_node(kinds.GUARDRAIL, name, span.span_id, parent, attributes)
        elif span_type == "custom":
            node = self._start_custom(data, span.span_id, parent)
        else:
            if span_type not in _PASS_THROUGH:
                log_once(f"type-{span_type}", "agentel: SDK span type %r has no mapping", span_type)
            node = parent
        nodes[span.span_id] = node

    def _start_agent(self, data: Any, span_id: str, parent: Node) -> Node:
        telemetry = self.telemetry
        name = data.name
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT,
            sc.GEN_AI_AGENT_NAME: name,
        }
        scope = RUN_SCOPE.get()
        known = scope.agents.get(name) if scope is not None else None
        description, provider = known if known is not None else (None, None)
        if description:
            attributes[sc.GEN_AI_AGENT_DESCRIPTION] = description
        if provider:
            attributes[sc.GEN_AI_PROVIDER_NAME] = provider
        output_type = getattr(data, "output_type", None)
        if output_type:
            attributes[sc.GEN_AI_OUTPUT_TYPE] = (
                sc.OUTPUT_TYPE_TEXT if output_type == "str" else sc.OUTPUT_TYPE_JSON
            )
        node = telemetry.start_node(
            kinds.AGENT, f"{sc.OP_INVOKE_AGENT} {name}", span_id, parent, attributes
        )
        node.name = name
        node.provider = provider
        if scope is not None and scope.open:
            scope.last_agent = node
            if scope.workflow is None:
                scope.workflow = node.workflow
        return node

    def _start_tool(self, data: Any, span_id: str, parent: Node) -> Node:
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
            sc.GEN_AI_TOOL_NAME: data.name,
            sc.GEN_AI_TOOL_TYPE: sc.TOOL_TYPE_FUNCTION,
        }
        if parent.agent is not None:
            attributes[sc.GEN_AI_AGENT_NAME] = parent.agent.name
        name = f"{sc.OP_EXECUTE_TOOL} {data.name}"
        node = self.telemetry.start_node(kinds.TOOL, name, span_id, parent, attributes)
        node.name = data.name
        return node

    def _start_handoff(self, data: Any, span_id: str, parent: Node) -> Node:
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
            sc.GEN_AI_TOOL_TYPE: sc.TOOL_TYPE_HANDOFF,
        }
        if data.from_agent:
            attributes[sc.AGENTEL_HANDOFF_FROM_AGENT] = data.from_agent
            attributes[sc.GEN_AI_AGENT_NAME] = data.from_agent
        # Named once the tool name is known: from the handoff's wrapper, else from its target.
        return self.telemetry.start_node(
            kinds.HANDOFF, f"{sc.OP_EXECUTE_TOOL} handoff", span_id, parent, attributes
        )

    def _start_custom(self, data: Any, span_id: str, parent: Node) -> Node:
        attributes: dict[str, Any] = {sc.AGENTEL_SDK_SPAN_TYPE: "custom"}
        attributes.update(metadata_attributes(data.data, sc.AGENTEL_CUSTOM_PREFIX))
        return self.telemetry.start_node(kinds.CUSTOM, data.name, span_id, parent, attributes)

    def _adopt_or_start_model(self, data: Any, span_id: str, parent: Node) -> Node:
        """Map the SDK's model span onto the wrapper's chat span, or make one if no wrapper."""
        call = state.MODEL_CALL.get()
        if call is not None and call.sdk_span_id is None:
            call.sdk_span_id = span_id
            return call.node
        model = str(getattr(data, "model", None) or "unknown")
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT,
            sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_OPENAI,
            sc.GEN_AI_REQUEST_MODEL: model,
        }
        return self.telemetry.start_node(
            kinds.CHAT, f"{sc.OP_CHAT} {model}", span_id, parent, attributes, SpanKind.CLIENT
        )

    def on_span_end(self, span: Any) -> None:
        try:
            self._end_span(span)
        except Exception:
            log_once("span-end", "agentel: could not end a span")

    def _end_span(self, span: Any) -> None:
        node = self.telemetry.nodes.pop(span.span_id, None)
        if node is None or node.sdk_id != span.span_id:  # not ours, or passed through
            if node is not None and node.kind == kinds.CHAT:
                call = state.MODEL_CALL.get()
                if call is not None and call.node is node:
                    call.sdk_span_done(span)
            return
        error = span.error
        if error:
            mark_error(node, str(error.get("message") or "error"))
        kind = node.kind
        data = span.span_data
        if kind == kinds.AGENT:
            self._end_deferrable(node)
            return
        if kind == kinds.TOOL:
            self._finish_tool(node, data)
        elif kind == kinds.HANDOFF:
            self._finish_handoff(node, data)
        elif kind == kinds.GUARDRAIL:
            self._finish_guardrail(node, data)
        elif kind == kinds.CHAT:
            self._finish_unwrapped_model(node, data)
        self.finish(node)

    def _finish_tool(self, node: Node, data: Any) -> None:
        """The SDK marks an MCP tool call as such only once the call has returned."""
        mcp_data = getattr(data, "mcp_data", None)
        if mcp_data:
            node.tool_type = sc.TOOL_TYPE_EXTENSION
            attributes = {sc.GEN_AI_TOOL_TYPE: sc.TOOL_TYPE_EXTENSION}
            if isinstance(mcp_data, dict) and mcp_data.get("server"):
                attributes[sc.AGENTEL_MCP_SERVER] = str(mcp_data["server"])
            node.span.set_attributes(attributes)

    def _finish_handoff(self, node: Node, data: Any) -> None:
        to_agent = getattr(data, "to_agent", None)
        if to_agent:
            node.set_later(sc.AGENTEL_HANDOFF_TO_AGENT, to_agent)
            if node.name is None:
                node.name = _default_handoff_tool_name(to_agent)
                node.span.update_name(f"{sc.OP_EXECUTE_TOOL} {node.name}")
                node.set_later(sc.GEN_AI_TOOL_NAME, node.name)

    def _finish_guardrail(self, node: Node, data: Any) -> None:
        triggered = bool(getattr(data, "triggered", False))
        value = "true" if triggered else "false"
        node.set_later(sc.GEN_AI_GUARDRAIL_RESULT_TYPE, sc.GUARDRAIL_RESULT_TRIPWIRE)
        node.set_later(sc.GEN_AI_GUARDRAIL_RESULT_VALUE, value)
        if node.agent is not None:
            event = {
                sc.GEN_AI_GUARDRAIL_COMPONENT_NAME: data.name,
                sc.GEN_AI_GUARDRAIL_RESULT_TYPE: sc.GUARDRAIL_RESULT_TRIPWIRE,
                sc.GEN_AI_GUARDRAIL_RESULT_VALUE: value,
            }
            node.agent.span.add_event(sc.EVENT_GUARDRAIL_RESULT, event)

    def _finish_unwrapped_model(self, node: Node, data: Any) -> None:
        usage = getattr(data, "usage", None)
        response = getattr(data, "response", None)
        if usage is None and response is not None:
            usage = getattr(response, "usage", None)
        if isinstance(usage, dict):
            tokens = (int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0))
        elif usage is not None:
            tokens = (int(usage.input_tokens or 0), int(usage.output_tokens or 0))
        else:
            return
        node.span.set_attributes(usage_attributes((*tokens, 0, 0, 0)))
        add_usage_up(node, (*tokens, 0, 0, 0))

    # --- ending -----------------------------------------------------------------------------
    def _end_deferrable(self, node: Node) -> None:
        """Agent and workflow spans wait for their run's outcome when a run is in progress."""
        scope = RUN_SCOPE.get()
        if scope is None or not scope.defer(node):
            self.finish(node)

    def finish(self, node: Node, end_ns: int | None = None) -> None:
        """End a node's span; an agent whose model never said otherwise is an OpenAI one."""
        if node.kind == kinds.AGENT and node.provider is None:
            node.set_later(sc.GEN_AI_PROVIDER_NAME, sc.PROVIDER_OPENAI)
        self.telemetry.finish(node, end_ns)

    def shutdown(self, timeout: float | None = None) -> None:
        return None

    def force_flush(self) -> None:
        return None


def _default_handoff_tool_name(agent_name: str) -> str:
    """The SDK's default handoff tool name, for handoffs whose own object we never saw."""
    try:
        from agents.util._transforms import transform_string_function_style

        return f"transfer_to_{transform_string_function_style(agent_name)}"
    except Exception:
        return f"transfer_to_{agent_name.lower().replace(' ', '_')}"
