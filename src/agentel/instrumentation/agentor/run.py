"""The run: one ``invoke_agent`` span per pass through ``AgentLoop.astream``.

Every way Agentor starts a run (``run``, ``arun``, ``Agentor.stream_chat``, ``resume``,
``fork``) goes through ``astream``, an async generator of the engine's events. The span starts
when the run does (the first item asked for), Agentor's code runs with it current one event at
a time, and the events themselves say what the wrappers cannot see: the call ids of the tools
the model asked for, tool calls that never reached a tool, and how the run ended.
"""

from __future__ import annotations

import time
from typing import Any

from agentel import backends as exports
from agentel import content
from agentel import semconv as sc
from agentel.instrumentation.core.attributes import metadata_attributes
from agentel.instrumentation.core.guest import StreamPlan, argument, log_once, traced_when_started
from agentel.instrumentation.core.nodes import AGENT, TOOL, mark_error
from agentel.instrumentation.core.telemetry import Telemetry

from .model_call import provider_of
from .runtime import ACTIVE, RUNTIME, UNTRACED, Active, AgentorRun

# error.type of a run that stopped at its turn budget: Agentor reports it as a status, not
# an exception, so there is no class name to give.
ERROR_TYPE_MAX_TURNS = "max_turns"
_RUN_ID, _TRACING = ("run_id", 2), ("tracing", 4)  # AgentLoop.astream's parameters


def wrap_astream(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    telemetry = RUNTIME.telemetry
    if telemetry is None:
        return wrapped(*args, **kwargs)
    events = wrapped(*args, **kwargs)
    return traced_when_started(events, lambda: _plan(telemetry, instance, args, kwargs))


def _plan(telemetry: Telemetry, loop: Any, args: Any, kwargs: Any) -> StreamPlan:
    active = _start(telemetry, loop, args, kwargs)
    run = active.run
    if run is None or run.agent is None:  # untraced: only tell the calls inside so
        return StreamPlan(None, None, _ignore_end, (ACTIVE, active))
    return StreamPlan(
        run.agent.otel_context(),
        lambda event: _observe(telemetry, run, event),
        lambda exc, completed: _end(telemetry, run, exc),
        (ACTIVE, active),
    )


def _ignore_end(exc: BaseException | None, completed: bool) -> None:
    return None


def _start(telemetry: Telemetry, loop: Any, args: Any, kwargs: Any) -> Active:
    outer = ACTIVE.get()
    if argument(args, kwargs, *_TRACING) is False or outer is UNTRACED:
        return UNTRACED
    name = str(getattr(loop, "name", None) or "Agent")
    attributes: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT,
        sc.GEN_AI_AGENT_NAME: name,
        sc.GEN_AI_OUTPUT_TYPE: (
            sc.OUTPUT_TYPE_JSON if getattr(loop, "output_type", None) else sc.OUTPUT_TYPE_TEXT
        ),
    }
    model = getattr(loop, "model", None)
    if model is not None:
        attributes[sc.GEN_AI_PROVIDER_NAME] = provider_of(model)
    conversation = getattr(loop, "trace_group_id", None) or argument(args, kwargs, *_RUN_ID)
    if conversation:
        attributes[sc.GEN_AI_CONVERSATION_ID] = str(conversation)
    attributes.update(metadata_attributes(getattr(loop, "trace_metadata", None)))
    instructions = getattr(loop, "instructions", None)
    settings = telemetry.content
    if instructions and settings.capture.on_span:
        attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json(
            content.system_instructions(str(instructions)), settings.max_length
        )
    parent = outer.node if outer is not None else None
    node = telemetry.start_node(AGENT, f"{sc.OP_INVOKE_AGENT} {name}", "", parent, attributes)
    node.name = name
    node.provider = attributes.get(sc.GEN_AI_PROVIDER_NAME)
    run = AgentorRun(last_agent=node, agent=node)
    return Active(node, run)


def _observe(telemetry: Telemetry, run: AgentorRun, event: Any) -> None:
    kind = getattr(event, "type", None)
    if kind == "generation":  # a new turn: the last one's calls are all answered
        run.pending.clear()
    elif kind == "tool_call":
        calls = run.pending.setdefault(str(event.name), [])
        calls.append((event.call_id, event.args))
    elif kind == "tool_result":
        if event.error and event.call_id not in run.started_calls:
            _unreached_tool(telemetry, run, event)
    elif kind == "run_end":
        # the run ends here; what Agentor does after (its own trace upload) is not the run
        run.ended_ns = time.time_ns()
        run.reported_usage = event.usage
        if event.status == "max_turns":
            run.failure = (str(event.error or "max_turns"), ERROR_TYPE_MAX_TURNS)
        elif event.status == "failed":
            run.failure = (str(event.error or "failed"), sc.ERROR_TYPE_OTHER)


def _unreached_tool(telemetry: Telemetry, run: AgentorRun, event: Any) -> None:
    """A call Agentor answered itself (an unknown or disabled tool, arguments that are not
    JSON): no tool ran, but the model's request failed, so it gets an ERROR span."""
    name = str(event.name)
    attributes: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
        sc.GEN_AI_TOOL_NAME: name,
        sc.GEN_AI_TOOL_TYPE: sc.TOOL_TYPE_FUNCTION,
    }
    if event.call_id:
        attributes[sc.GEN_AI_TOOL_CALL_ID] = event.call_id
    agent = run.agent
    if agent is not None and agent.name:
        attributes[sc.GEN_AI_AGENT_NAME] = agent.name
    node = telemetry.start_node(TOOL, f"{sc.OP_EXECUTE_TOOL} {name}", "", agent, attributes)
    node.name = name
    mark_error(node, str(event.error), sc.ERROR_TYPE_OTHER)
    telemetry.finish(node)


def _end(telemetry: Telemetry, run: AgentorRun, exc: BaseException | None) -> None:
    agent = run.agent
    if agent is None:
        return
    try:
        if exc is not None:
            run.close(exc, telemetry.finish)
        elif run.failure is not None:
            mark_error(agent, *run.failure)
        if agent.usage is None and run.reported_usage is not None:
            # a model class we do not wrap still reports its tokens to the loop
            usage = run.reported_usage
            agent.add_usage((usage.input_tokens, usage.output_tokens, 0, 0, 0))
    except Exception:
        log_once("agentor-run-end", "agentel: could not record how an Agentor run ended")
    telemetry.finish(agent, run.ended_ns)


def wrap_celesto_export(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Agentor's own upload of a run to Celesto: skipped while agentel sends the same run
    there (unless ``keep_agentor_export``), so each run reaches Celesto once."""
    if (
        RUNTIME.telemetry is not None
        and not RUNTIME.keep_agentor_export
        and exports.sending_to("celesto")
    ):
        return None
    return wrapped(*args, **kwargs)
