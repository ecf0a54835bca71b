"""wrapt wrappers around the SDK's public call points.

Each wrapper follows one shape: find (or start) its span cheaply, attach it as the current
OTel context for exactly the duration of the original call, record the outcome, detach, and
return what the original returned. Anything of ours that fails is logged once at debug level
and the original runs as if we were not there.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import wrapt
from agents.tracing import get_current_span, get_current_trace
from opentelemetry import context as otel_context

from agentel import content
from agentel import semconv as sc
from agentel.instrumentation.core import nodes as kinds
from agentel.instrumentation.core.attributes import tool_result
from agentel.instrumentation.core.chat import litellm_provider
from agentel.instrumentation.core.guest import (
    call_within_async,
    guarded,
    log_once,
    safely,
    traced_async_iterator,
)
from agentel.instrumentation.core.nodes import Node
from agentel.instrumentation.core.scope import RUN_SCOPE, RunScope, record
from agentel.instrumentation.core.telemetry import Telemetry

from . import model_call, state
from .model_call import ModelCall
from .processor import OTelBridgeProcessor


class Runtime:
    """What the wrappers need; ``telemetry`` is None whenever we are not instrumented."""

    telemetry: Telemetry | None = None
    processor: OTelBridgeProcessor | None = None


RUNTIME = Runtime()


def _current_node(telemetry: Telemetry, kind: str) -> Node | None:
    node = state.node_for_sdk_span(telemetry, get_current_span())
    return node if node is not None and node.kind == kind else None


def _locate(find: Callable[..., Node | None], key: str, *find_args: Any) -> Node | None:
    """Run a wrapper's span lookup or start; our failure means "no span", never an error."""
    telemetry = RUNTIME.telemetry
    if telemetry is None:
        return None
    return guarded(find, key, telemetry, *find_args)


async def _call_within(node: Node, wrapped: Any, args: Any, kwargs: Any) -> Any:
    """The original call with ``node``'s span as the current OTel context, and only then."""
    return await call_within_async(
        node.otel_context(), lambda exc: record(node, exc), wrapped, args, kwargs
    )


# --- runs -----------------------------------------------------------------------------------
def _open_scope(telemetry: Telemetry, args: tuple[Any, ...], kwargs: dict[str, Any]) -> RunScope:
    scope = RunScope()
    starting_agent = args[0] if args else kwargs.get("starting_agent")
    if starting_agent is not None:
        prepare_agents(scope, starting_agent)
    return scope


def _close_scope(scope: RunScope | None, exc: BaseException | None) -> None:
    processor = RUNTIME.processor
    if scope is None or processor is None:
        return
    try:
        scope.close(exc, processor.finish)
    except Exception:
        log_once("run-close", "agentel: could not end a run's spans")


def _locate_scope(args: Any, kwargs: Any) -> RunScope | None:
    telemetry = RUNTIME.telemetry
    if telemetry is None:
        return None
    try:
        if _tracing_disabled(kwargs.get("run_config")):
            return None  # the SDK traces nothing in this run, so neither do we: no cost
        return _open_scope(telemetry, args, kwargs)
    except Exception:
        log_once("run-open", "agentel: could not prepare a run")
        return None


def _tracing_disabled(run_config: Any) -> bool:
    if run_config is None:
        return False
    if isinstance(run_config, dict):
        return bool(run_config.get("tracing_disabled"))
    return bool(getattr(run_config, "tracing_disabled", False))


async def wrap_run(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    scope = _locate_scope(args, kwargs)
    if scope is None:
        return await wrapped(*args, **kwargs)
    token = RUN_SCOPE.set(scope)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        _close_scope(scope, exc)
        raise
    finally:
        RUN_SCOPE.reset(token)
    _close_scope(scope, None)
    return result


def wrap_run_streamed(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    scope = _locate_scope(args, kwargs)
    if scope is None:
        return wrapped(*args, **kwargs)
    token = RUN_SCOPE.set(scope)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        _close_scope(scope, exc)
        raise
    finally:
        RUN_SCOPE.reset(token)
    _watch_stream(scope, result)
    return result


def _watch_stream(scope: RunScope, result: Any) -> None:
    """The streamed run goes on in the SDK's own task: settle the scope when it is done."""
    task = getattr(result, "run_loop_task", None)
    if task is None or not hasattr(task, "add_done_callback"):
        _close_scope(scope, None)
        return

    def done(_task: Any) -> None:
        _close_scope(scope, getattr(result, "_stored_exception", None))

    task.add_done_callback(done)


def prepare_agents(scope: RunScope, starting_agent: Any) -> None:
    """Walk the agents reachable by handoff once per run: patch the tools and handoffs made
    before instrumentation, and note each agent's description and provider for its spans
    in the run's own scope (another run may have other agents of the same names)."""
    info = scope.agents
    seen: set[int] = set()
    pending = [starting_agent]
    while pending:
        agent = pending.pop()
        if id(agent) in seen:
            continue
        seen.add(id(agent))
        name = getattr(agent, "name", None)
        if isinstance(name, str) and name not in info:
            info[name] = (getattr(agent, "handoff_description", None), _agent_provider(agent))
        for tool in getattr(agent, "tools", None) or ():
            if type(tool).__name__ == "FunctionTool":
                patch_tool(tool)
        for item in getattr(agent, "handoffs", None) or ():
            if hasattr(item, "on_invoke_handoff"):
                patch_handoff(item)
            else:
                pending.append(item)


def _agent_provider(agent: Any) -> str | None:
    model = getattr(agent, "model", None)
    if model is None or isinstance(model, str):
        if isinstance(model, str) and model.startswith("litellm/"):
            return litellm_provider(model.removeprefix("litellm/"))
        return sc.PROVIDER_OPENAI
    return None


# --- model calls ----------------------------------------------------------------------------
def _start_model_call(model: Any, args: Any, kwargs: Any, stream: bool) -> ModelCall | None:
    telemetry = RUNTIME.telemetry
    if telemetry is None:
        return None
    try:
        active = state.MODEL_CALL.get()
        if active is not None and active.model is model:
            return None  # a subclass calling super(): one call, one span
        tracing = model_call.argument(args, kwargs, "tracing")
        if tracing is not None and tracing.is_disabled():
            return None
        parent = None
        sdk_trace = get_current_trace()
        if sdk_trace is not None:
            parent = state.node_for_sdk_span(telemetry, get_current_span()) or telemetry.nodes.get(
                sdk_trace.trace_id
            )
            if parent is None:
                return None  # the SDK is not tracing this work: neither do we
        return ModelCall.begin(telemetry, model, args, kwargs, stream, parent)
    except Exception:
        log_once("model-start", "agentel: could not start a model span")
        return None


async def wrap_get_response(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    call = _start_model_call(instance, args, kwargs, stream=False)
    if call is None:
        return await wrapped(*args, **kwargs)
    token = otel_context.attach(call.node.otel_context())
    call_token = state.MODEL_CALL.set(call)
    try:
        response = await wrapped(*args, **kwargs)
    except BaseException as exc:
        record(call.node, exc)
        safely(call.end, "model-end")
        raise
    finally:
        state.MODEL_CALL.reset(call_token)
        otel_context.detach(token)
    try:
        call.succeed_with(response)
    except Exception:
        log_once("model-response", "agentel: could not record a model response")
    try:
        call.end()
    except Exception:
        log_once("model-end", "agentel: could not end a model span")
    return response


async def wrap_chat_completions_create(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """The OpenAI client's Chat Completions call made by a model call we trace: the server's
    completion id and model are seen here only."""
    result = await wrapped(*args, **kwargs)
    call = state.MODEL_CALL.get()
    if call is None:
        return result
    try:
        return call.saw_completion(result)
    except Exception:
        log_once("chat-completion", "agentel: could not read a chat completion")
        return result


def wrap_stream_response(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return _traced_stream(wrapped, instance, args, kwargs)


async def _traced_stream(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> AsyncIterator[Any]:
    """Drive the SDK's stream one event at a time, with our span attached only while the SDK
    works on the next event: the consumer's code between events never sees it."""
    call = _start_model_call(instance, args, kwargs, stream=True)
    stream = wrapped(*args, **kwargs)
    if call is None:
        async for event in stream:
            yield event
        return

    def on_end(error: BaseException | None, completed: bool) -> None:
        if error is not None:
            record(call.node, error)
        if completed:
            safely(lambda: call.succeed_with(None), "model-response")
        call.end()

    traced = traced_async_iterator(
        call.node.otel_context(), stream, call.observe, on_end, (state.MODEL_CALL, call)
    )
    try:
        async for event in traced:
            yield event
    finally:
        await traced.aclose()


# --- tools and handoffs (per instance) ------------------------------------------------------
class TracedCallable(wrapt.FunctionWrapper):  # type: ignore[misc]
    """Marks an instance attribute we replaced, so it is patched once and can be restored."""


_patched: dict[int, tuple[weakref.ref[Any], str]] = {}


def _needs_patch(obj: Any, attribute: str) -> bool:
    current = obj.__dict__.get(attribute)
    return current is not None and type(current) is not TracedCallable


def _patch_instance(obj: Any, attribute: str, wrapper: Callable[..., Any]) -> None:
    setattr(obj, attribute, TracedCallable(obj.__dict__[attribute], wrapper))
    key = id(obj)
    _patched[key] = (weakref.ref(obj, lambda _ref, key=key: _patched.pop(key, None)), attribute)


def restore_instances() -> None:
    for ref, attribute in list(_patched.values()):
        obj = ref()
        if obj is None:
            continue
        current = obj.__dict__.get(attribute)
        if type(current) is TracedCallable:
            setattr(obj, attribute, current.__wrapped__)
    _patched.clear()


def patch_tool(tool: Any) -> None:
    try:
        if _needs_patch(tool, "on_invoke_tool"):
            wrapper = _tool_wrapper(getattr(tool, "description", None))
            _patch_instance(tool, "on_invoke_tool", wrapper)
    except Exception:
        log_once("patch-tool", "agentel: could not wrap a function tool")


def patch_handoff(handoff: Any) -> None:
    try:
        if _needs_patch(handoff, "on_invoke_handoff"):
            description = getattr(handoff, "tool_description", None)
            wrapper = _handoff_wrapper(handoff.tool_name, description)
            _patch_instance(handoff, "on_invoke_handoff", wrapper)
    except Exception:
        log_once("patch-handoff", "agentel: could not wrap a handoff")


def _tool_wrapper(description: str | None) -> Callable[..., Any]:
    async def invoke_tool(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        node = _locate(_tool_node, "tool", args, description)
        if node is None:
            return await wrapped(*args, **kwargs)
        result = await _call_within(node, wrapped, args, kwargs)
        if node.content_started:
            safely(lambda: _tool_result(node, result), "tool-result")
        return result

    return invoke_tool


def _tool_node(telemetry: Telemetry, args: Any, description: str | None) -> Node | None:
    node = _current_node(telemetry, kinds.TOOL)
    if node is None:
        return None
    tool_context = args[0] if args else None
    attributes: dict[str, Any] = {}
    call_id = getattr(tool_context, "tool_call_id", None)
    if call_id:
        attributes[sc.GEN_AI_TOOL_CALL_ID] = call_id
    if description:
        attributes[sc.GEN_AI_TOOL_DESCRIPTION] = description
    if telemetry.content.capture.on_span and _sensitive_data_allowed(tool_context):
        node.content_started = True  # the result is recorded too when the call returns
        if len(args) > 1 and isinstance(args[1], str):
            arguments = content.to_json(content.parse_json(args[1]), telemetry.content.max_length)
            attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = arguments
    if attributes:
        node.span.set_attributes(attributes)
    return node


def _tool_result(node: Node, result: Any) -> None:
    telemetry = RUNTIME.telemetry
    if telemetry is None:
        return
    node.span.set_attribute(
        sc.GEN_AI_TOOL_CALL_RESULT, tool_result(result, telemetry.content.max_length)
    )


def _sensitive_data_allowed(tool_context: Any) -> bool:
    run_config = getattr(tool_context, "run_config", None)
    return run_config is None or bool(getattr(run_config, "trace_include_sensitive_data", True))


def _handoff_wrapper(tool_name: str, description: str | None) -> Callable[..., Any]:
    async def invoke_handoff(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        node = _locate(_handoff_node, "handoff", tool_name, description)
        if node is None:
            return await wrapped(*args, **kwargs)
        return await _call_within(node, wrapped, args, kwargs)

    return invoke_handoff


def _handoff_node(telemetry: Telemetry, tool_name: str, description: str | None) -> Node | None:
    node = _current_node(telemetry, kinds.HANDOFF)
    if node is None:
        return None
    node.name = tool_name
    node.span.update_name(f"{sc.OP_EXECUTE_TOOL} {tool_name}")
    node.set_later(sc.GEN_AI_TOOL_NAME, tool_name)
    if description:
        node.set_later(sc.GEN_AI_TOOL_DESCRIPTION, description)
    agent = node.agent
    call_id = agent.calls.get(tool_name) if agent is not None and agent.calls else None
    if call_id:
        node.set_later(sc.GEN_AI_TOOL_CALL_ID, call_id)
    return node


def after_function_tool_init(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    result = wrapped(*args, **kwargs)
    if RUNTIME.telemetry is not None:
        patch_tool(instance)
    return result


def after_handoff_init(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    result = wrapped(*args, **kwargs)
    if RUNTIME.telemetry is not None:
        patch_handoff(instance)
    return result


def wrap_tool_failure(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """The SDK is about to turn a tool's exception into a message for the model: this is the
    one place that still holds the real exception, so record it on the tool span."""
    telemetry = RUNTIME.telemetry
    error = kwargs.get("error")
    if telemetry is not None and isinstance(error, BaseException):
        try:
            node = _current_node(telemetry, kinds.TOOL)
            if node is not None:
                record(node, error)
        except Exception:
            log_once("tool-failure", "agentel: could not record a tool failure")
    return wrapped(*args, **kwargs)


# --- guardrails -----------------------------------------------------------------------------
def _guardrail_node(telemetry: Telemetry, source: str) -> Node | None:
    node = _current_node(telemetry, kinds.GUARDRAIL)
    if node is not None:
        node.span.set_attribute(sc.GEN_AI_GUARDRAIL_SOURCE, source)
    return node


def _guardrail_wrapper(source: str) -> Callable[..., Any]:
    async def run_guardrail(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        node = _locate(_guardrail_node, "guardrail", source)
        if node is None:
            return await wrapped(*args, **kwargs)
        return await _call_within(node, wrapped, args, kwargs)

    return run_guardrail


wrap_input_guardrail = _guardrail_wrapper(sc.GUARDRAIL_SOURCE_INPUT)
wrap_output_guardrail = _guardrail_wrapper(sc.GUARDRAIL_SOURCE_OUTPUT)


def _tool_guardrail_wrapper(source: str) -> Callable[..., Any]:
    """Tool guardrails have no SDK span: this wrapper makes theirs, under the tool's span."""

    async def run_tool_guardrail(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        node = _locate(_start_tool_guardrail, "tool-guardrail", instance, source)
        if node is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await _call_within(node, wrapped, args, kwargs)
        except BaseException:
            node.span.end()
            raise
        safely(lambda: _finish_tool_guardrail(node, result), "tool-guardrail-end")
        return result

    return run_tool_guardrail


def _start_tool_guardrail(telemetry: Telemetry, guardrail: Any, source: str) -> Node | None:
    parent = state.node_for_sdk_span(telemetry, get_current_span())
    if parent is None:
        return None
    name = guardrail.get_name() if hasattr(guardrail, "get_name") else str(guardrail)
    attributes = {
        sc.GEN_AI_OPERATION_NAME: sc.OP_APPLY_GUARDRAIL,
        sc.GEN_AI_GUARDRAIL_COMPONENT_NAME: name,
        sc.GEN_AI_GUARDRAIL_SOURCE: source,
    }
    node = telemetry.start_node(
        kinds.GUARDRAIL, f"{sc.OP_APPLY_GUARDRAIL} {name}", "", parent, attributes
    )
    node.name = name
    return node


def _finish_tool_guardrail(node: Node, result: Any) -> None:
    behavior = getattr(result, "behavior", None) or {}
    triggered = behavior.get("type", "allow") != "allow"
    value = "true" if triggered else "false"
    node.span.set_attribute(sc.GEN_AI_GUARDRAIL_RESULT_TYPE, sc.GUARDRAIL_RESULT_TRIPWIRE)
    node.span.set_attribute(sc.GEN_AI_GUARDRAIL_RESULT_VALUE, value)
    if node.agent is not None:
        node.agent.span.add_event(
            sc.EVENT_GUARDRAIL_RESULT,
            {
                sc.GEN_AI_GUARDRAIL_COMPONENT_NAME: node.name or "",
                sc.GEN_AI_GUARDRAIL_RESULT_TYPE: sc.GUARDRAIL_RESULT_TRIPWIRE,
                sc.GEN_AI_GUARDRAIL_RESULT_VALUE: value,
            },
        )
    node.span.end()


wrap_tool_input_guardrail = _tool_guardrail_wrapper(sc.GUARDRAIL_SOURCE_TOOL_INPUT)
wrap_tool_output_guardrail = _tool_guardrail_wrapper(sc.GUARDRAIL_SOURCE_TOOL_OUTPUT)
