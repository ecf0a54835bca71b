"""Tool calls: ``FunctionCall.execute`` / ``aexecute``, one ``execute_tool`` span each.

Agno turns a tool's exception into a failure result, logging it (with its traceback) on the
way: :data:`TOOL_EXCEPTIONS`, a filter on Agno's loggers, keeps that exception for the tool
span whose call is running, so the span carries the real type and stack. A tool that returns
a generator (a team's delegation to a member is one) does its work while Agno iterates it,
after ``execute`` has returned: the span follows that generator, so the member's run nests
under the delegation call that ran it.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from agentel import content
from agentel import semconv as sc
from agentel.instrumentation.core.attributes import tool_result
from agentel.instrumentation.core.guest import (
    call_within,
    call_within_async,
    guarded,
    log_once,
    safely,
    traced_async_iterator,
    traced_iterator,
)
from agentel.instrumentation.core.nodes import TOOL, Node, mark_error
from agentel.instrumentation.core.telemetry import Telemetry

from .state import CURRENT, RUNTIME, record_failure, start


class _ToolExceptions(logging.Filter):
    """Sees each record Agno logs; keeps the exception of one logged inside a tool call.
    Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc_info = record.exc_info
        if exc_info and isinstance(exc_info[1], Exception):
            node = CURRENT.get()
            if node is not None and node.kind == TOOL and node.exception is None:
                safely(lambda: record_failure(node, exc_info[1]), "tool-exception")
        return True


TOOL_EXCEPTIONS = _ToolExceptions()


def _start_tool(telemetry: Telemetry, call: Any) -> Node:
    function = call.function
    name = str(getattr(function, "name", None) or "tool")
    attributes: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
        sc.GEN_AI_TOOL_NAME: name,
        sc.GEN_AI_TOOL_TYPE: sc.TOOL_TYPE_FUNCTION,
    }
    call_id = getattr(call, "call_id", None)
    if call_id:
        attributes[sc.GEN_AI_TOOL_CALL_ID] = str(call_id)
    description = getattr(function, "description", None)
    if isinstance(description, str) and description:
        attributes[sc.GEN_AI_TOOL_DESCRIPTION] = description
    capture = telemetry.content.capture.on_span
    if capture and call.arguments is not None:
        attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = content.to_json(
            call.arguments, telemetry.content.max_length
        )
    node = start(telemetry, TOOL, f"{sc.OP_EXECUTE_TOOL} {name}", attributes)
    node.name = name
    node.content_started = capture
    agent = node.agent
    if agent is not None and agent.name:
        node.span.set_attribute(sc.GEN_AI_AGENT_NAME, agent.name)
    return node


def _prepare(call: Any) -> Node | None:
    telemetry = RUNTIME.telemetry
    if telemetry is None:
        return None
    return guarded(_start_tool, "tool", telemetry, call)  # type: ignore[no-any-return]


def _on_error(node: Node) -> Any:
    return lambda exc: safely(lambda: record_failure(node, exc), "tool-error")


def wrap_execute(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    node = _prepare(instance)
    if node is None:
        return wrapped(*args, **kwargs)
    try:
        result = call_within(
            node.otel_context(), _on_error(node), wrapped, args, kwargs, (CURRENT, node)
        )
    except BaseException:
        _finish(node)
        raise
    return _settle(node, instance, result)


async def wrap_aexecute(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    node = _prepare(instance)
    if node is None:
        return await wrapped(*args, **kwargs)
    try:
        result = await call_within_async(
            node.otel_context(), _on_error(node), wrapped, args, kwargs, (CURRENT, node)
        )
    except BaseException:
        _finish(node)
        raise
    return _settle(node, instance, result)


def _settle(node: Node, call: Any, result: Any) -> Any:
    """A finished call ends its span; a generator result keeps it open while Agno iterates."""
    try:
        value = getattr(result, "result", None)
        if inspect.isgenerator(value) or inspect.isasyncgen(value):
            traced = _follow(node, value)
            result.result = traced
            if call.result is value:
                call.result = traced
            return result
        _outcome(node, result)
    except Exception:
        log_once("tool-result", "agentel: could not record a tool result")
    _finish(node)
    return result


def _outcome(node: Node, result: Any) -> None:
    if getattr(result, "status", None) == "failure":
        if node.exception is None:
            mark_error(node, str(getattr(result, "error", None) or "tool call failed"))
        return
    telemetry = RUNTIME.telemetry
    if node.content_started and telemetry is not None:
        value = tool_result(getattr(result, "result", None), telemetry.content.max_length)
        node.span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, value)


def _follow(node: Node, generator: Any) -> Any:
    def end(exc: BaseException | None, completed: bool) -> None:
        if exc is not None:
            record_failure(node, exc)
        _finish(node)

    if inspect.isasyncgen(generator):
        return traced_async_iterator(node.otel_context(), generator, None, end, (CURRENT, node))
    return traced_iterator(node.otel_context(), generator, None, end, (CURRENT, node))


def _finish(node: Node) -> None:
    telemetry = RUNTIME.telemetry
    if telemetry is not None:
        telemetry.finish(node)
    else:
        node.span.end()
