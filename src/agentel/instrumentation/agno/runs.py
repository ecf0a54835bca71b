"""Agent, team and workflow runs, and workflow steps: one span each.

Agno's run methods come in every shape: ``run`` returns an output or, streaming, an iterator
of events; ``arun`` returns a coroutine or an async iterator. A run that is not streamed gets
its span for the duration of the call; a streamed one starts its span lazily, when the caller
asks for the first event, and ends it when the stream is exhausted, closed or raises. Agno
reports a failed run with status ERROR instead of raising, so the output (or the error event)
decides the span's status, with the type of the exception recorded below it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

from agentel import semconv as sc
from agentel.instrumentation.core.attributes import metadata_attributes
from agentel.instrumentation.core.guest import (
    call_within,
    call_within_async,
    error_type,
    guarded,
    safely,
    traced_async_iterator,
    traced_iterator,
)
from agentel.instrumentation.core.nodes import AGENT, STEP, WORKFLOW, Node, mark_error
from agentel.instrumentation.core.telemetry import Telemetry

from . import model_call
from .state import (
    CURRENT,
    RUNTIME,
    failure_below,
    forget,
    learn_conversation,
    record_failure,
    start,
)

_ERROR_EVENTS = frozenset({"RunError", "TeamRunError", "WorkflowError", "StepError"})


class _Run:
    """One run or step: its span's name and attributes until it starts, then its node."""

    __slots__ = (
        "attributes",
        "error",
        "instance",
        "kind",
        "name",
        "node",
        "run_id",
        "session_id",
        "telemetry",
    )

    def __init__(
        self, instance: Any, kind: str, name: str, attributes: dict[str, Any], session_id: Any
    ) -> None:
        self.instance = instance
        self.kind = kind
        self.name = name
        self.attributes = attributes
        self.session_id = session_id
        self.node: Node | None = None
        self.telemetry: Telemetry | None = None
        self.run_id: str | None = attributes.get(sc.AGENTEL_AGNO_RUN_ID)
        self.error: str | None = None

    def begin(self, telemetry: Telemetry) -> Node:
        learn_conversation(CURRENT.get(), self.session_id)
        span_name = (
            self.name
            if self.kind == STEP
            else f"{self.attributes[sc.GEN_AI_OPERATION_NAME]} {self.name}"
        )
        node = start(telemetry, self.kind, span_name, self.attributes)
        node.name = self.name
        learn_conversation(node, self.session_id)
        self.node = node
        self.telemetry = telemetry
        return node

    def on_error(self, exc: BaseException) -> None:
        if self.node is not None:
            safely(lambda: record_failure(self.node, exc), "run-error")  # type: ignore[arg-type]

    # --- what Agno returns ------------------------------------------------------------------
    def observe(self, item: Any) -> None:
        """An event of a streamed run (or the output it yields last): learn the run's ids and
        whether it failed, ignoring the events of member runs that a team passes on."""
        if self.kind == STEP:  # a step's stream carries its executor's events: only its own
            if getattr(item, "event", None) == "StepError" or (
                getattr(item, "success", True) is False and hasattr(item, "step_name")
            ):
                self.error = str(getattr(item, "error", None) or "step failed")
            return
        run_id = getattr(item, "run_id", None)
        if self.run_id is None and isinstance(run_id, str):
            self.run_id = run_id
        elif run_id is not None and run_id != self.run_id:
            return
        learn_conversation(self.node, getattr(item, "session_id", None))
        if getattr(item, "event", None) in _ERROR_EVENTS:
            self.error = str(getattr(item, "content", None) or getattr(item, "error", None) or "")
        elif _failed(item):
            self.error = str(getattr(item, "content", None) or "run failed")
        else:
            # A workflow whose step failed for good still says COMPLETED.
            for step in getattr(item, "step_results", None) or ():
                if getattr(step, "success", True) is False:
                    self.error = f"step {step.step_name} failed: {step.error}"

    def settle(self, output: Any) -> None:
        """The run's output (not streamed): its ids and status, then the span's end."""
        safely(lambda: self.observe(output), "run-output")
        if self.kind == STEP and getattr(output, "success", True) is False:
            self.error = str(getattr(output, "error", None) or "step failed")
        self.end()

    def end_stream(self, exc: BaseException | None, completed: bool) -> None:
        if exc is not None:
            self.on_error(exc)
        self.end()

    def end(self) -> None:
        node, telemetry = self.node, self.telemetry
        if node is None or telemetry is None:
            return
        try:
            if self.run_id and self.kind != STEP:
                node.span.set_attribute(sc.AGENTEL_AGNO_RUN_ID, self.run_id)
            if self.kind == AGENT and sc.GEN_AI_AGENT_ID not in self.attributes:
                agent_id = getattr(self.instance, "id", None)  # Agno names it during the run
                if isinstance(agent_id, str) and agent_id:
                    node.span.set_attribute(sc.GEN_AI_AGENT_ID, agent_id)
            if self.error is not None and not node.errored:
                exc = failure_below(node)
                mark_error(node, self.error or "run failed", error_type(exc) if exc else None)
                if node.exception is None:
                    node.exception = exc  # names the failure in the duration metric
        finally:
            forget(node)
            telemetry.finish(node)


def _failed(output: Any) -> bool:
    status = getattr(output, "status", None)
    return str(getattr(status, "value", status)).upper() == "ERROR"


def _kind_of(instance: Any) -> str:
    for cls in type(instance).__mro__:
        if cls.__name__ == "Workflow":
            return "workflow"
        if cls.__name__ == "Team":
            return "team"
    return "agent"


def _describe(telemetry: Telemetry, instance: Any, kwargs: dict[str, Any]) -> _Run:
    entity = _kind_of(instance)
    name = getattr(instance, "name", None) or getattr(instance, "id", None) or entity
    # continue_run names the run it resumes, with its session, instead of a session id.
    resumed = kwargs.get("run_response") or kwargs.get("run_context")
    session_id = (
        kwargs.get("session_id")
        or getattr(resumed, "session_id", None)
        or getattr(instance, "session_id", None)
    )
    user_id = (
        kwargs.get("user_id")
        or getattr(resumed, "user_id", None)
        or getattr(instance, "user_id", None)
    )
    if entity == "workflow":
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_WORKFLOW,
            sc.GEN_AI_WORKFLOW_NAME: str(name),
        }
        kind = WORKFLOW
    else:
        attributes = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT,
            sc.GEN_AI_AGENT_NAME: str(name),
            sc.AGENTEL_AGNO_ENTITY: entity,
        }
        agent_id = getattr(instance, "id", None)
        if isinstance(agent_id, str) and agent_id:
            attributes[sc.GEN_AI_AGENT_ID] = agent_id
        description = getattr(instance, "role", None) or getattr(instance, "description", None)
        if isinstance(description, str) and description:
            attributes[sc.GEN_AI_AGENT_DESCRIPTION] = description
        provider = model_call.provider_of(getattr(instance, "model", None))
        if provider is not None:
            attributes[sc.GEN_AI_PROVIDER_NAME] = provider
        kind = AGENT
    if isinstance(user_id, str) and user_id:
        attributes[sc.USER_ID] = user_id
    metadata = kwargs.get("metadata") or getattr(instance, "metadata", None)
    if metadata:
        attributes.update(metadata_attributes(metadata))
    run_id = kwargs.get("run_id") or getattr(resumed, "run_id", None)
    if isinstance(run_id, str) and run_id:
        attributes[sc.AGENTEL_AGNO_RUN_ID] = run_id
    return _Run(instance, kind, str(name), attributes, session_id)


def _describe_step(telemetry: Telemetry, instance: Any, kwargs: dict[str, Any]) -> _Run:
    name = getattr(instance, "name", None) or type(instance).__name__
    attributes = {sc.AGENTEL_AGNO_STEP_TYPE: type(instance).__name__.lower()}
    return _Run(instance, STEP, str(name), attributes, kwargs.get("session_id"))


def _streams(instance: Any, kwargs: dict[str, Any]) -> bool:
    """Whether Agno will answer with a stream: the call's ``stream``, else the object's."""
    stream = kwargs.get("stream")
    if stream is None:
        stream = getattr(instance, "stream", None)
    return bool(stream)


# --- the wrappers ---------------------------------------------------------------------------
def wrap_run(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return _run_sync(_describe, wrapped, instance, args, kwargs, _streams(instance, kwargs))


def wrap_step(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    streamed = wrapped.__name__.endswith("_stream")
    return _run_sync(_describe_step, wrapped, instance, args, kwargs, streamed)


def wrap_arun(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return _run_async(_describe, wrapped, instance, args, kwargs)


def wrap_astep(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return _run_async(_describe_step, wrapped, instance, args, kwargs)


def _prepare(describe: Any, instance: Any, kwargs: Any) -> _Run | None:
    telemetry = RUNTIME.telemetry
    if telemetry is None:
        return None
    return guarded(describe, "run", telemetry, instance, kwargs)  # type: ignore[no-any-return]


def _run_sync(
    describe: Any, wrapped: Any, instance: Any, args: Any, kwargs: Any, streamed: bool
) -> Any:
    run = _prepare(describe, instance, kwargs)
    if run is None:
        return wrapped(*args, **kwargs)
    if streamed:
        # Agno prepares the run here and does the work while the caller iterates.
        return _follow(run, wrapped(*args, **kwargs))
    node = guarded(run.begin, "run-start", RUNTIME.telemetry)
    if node is None:
        return wrapped(*args, **kwargs)
    try:
        result = call_within(
            node.otel_context(), run.on_error, wrapped, args, kwargs, (CURRENT, node)
        )
    except BaseException:
        safely(run.end, "run-end")
        raise
    return _follow(run, result)


def _run_async(describe: Any, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """``arun`` and ``aexecute*``: Agno prepares synchronously and hands back a coroutine or an
    async iterator; the span starts when that is awaited or first iterated."""
    run = _prepare(describe, instance, kwargs)
    result = wrapped(*args, **kwargs)
    if run is None:
        return result
    return _follow(run, result)


def _follow(run: _Run, result: Any) -> Any:
    """Hand back what Agno returned, traced: a stream item by item, a coroutine while it is
    awaited, an output at once."""
    if inspect.iscoroutine(result):
        return _traced_coroutine(run, result)
    if inspect.isasyncgen(result) or isinstance(result, AsyncIterator):
        return _traced_async_stream(run, result)
    if inspect.isgenerator(result) or isinstance(result, Iterator):
        return _traced_stream(run, result)
    if run.node is None:  # Agno answered a call we took for a stream at once
        guarded(run.begin, "run-start", RUNTIME.telemetry)
    if run.node is not None:
        safely(lambda: run.settle(result), "run-output")
    return result


def _traced_stream(run: _Run, events: Iterator[Any]) -> Iterator[Any]:
    node = run.node or guarded(run.begin, "run-start", RUNTIME.telemetry)
    if node is None:
        yield from events
        return
    yield from traced_iterator(
        node.otel_context(), events, run.observe, run.end_stream, (CURRENT, node)
    )


async def _traced_async_stream(run: _Run, events: AsyncIterator[Any]) -> AsyncIterator[Any]:
    node = run.node or guarded(run.begin, "run-start", RUNTIME.telemetry)
    if node is None:
        async for event in events:
            yield event
        return
    traced = traced_async_iterator(
        node.otel_context(), events, run.observe, run.end_stream, (CURRENT, node)
    )
    try:
        async for event in traced:
            yield event
    finally:
        await traced.aclose()


async def _traced_coroutine(run: _Run, coroutine: Any) -> Any:
    node = run.node or guarded(run.begin, "run-start", RUNTIME.telemetry)
    if node is None:
        return await coroutine
    try:
        result = await call_within_async(
            node.otel_context(), run.on_error, _awaited, (coroutine,), {}, (CURRENT, node)
        )
    except BaseException:
        safely(run.end, "run-end")
        raise
    return _follow(run, result)


def _awaited(coroutine: Any) -> Any:
    return coroutine
