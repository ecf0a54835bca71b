"""One model request (``invoke`` / ``ainvoke`` / ``invoke_stream`` / ``ainvoke_stream`` of an
Agno model class) on the core's ``chat`` span.

Agno's ``ModelResponse`` carries the text, tool calls and token counts in one shape for every
provider; the response id, model and finish reason exist only in the provider's raw response,
which each model class hands to its ``_parse_provider_response*`` methods inside the request:
:func:`peek_response` reads them there without changing anything.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Iterator
from typing import Any

from opentelemetry.trace import SpanKind

from agentel import content
from agentel import semconv as sc
from agentel.instrumentation.core import chat_messages
from agentel.instrumentation.core.chat import (
    ChatCall,
    ChatProfile,
    add_request_settings,
    cached_profile,
    server_of_url,
)
from agentel.instrumentation.core.guest import (
    call_within,
    call_within_async,
    guarded,
    log_once,
    safely,
    traced_async_iterator,
    traced_iterator,
)
from agentel.instrumentation.core.nodes import Tokens
from agentel.instrumentation.core.telemetry import Telemetry

from .state import CURRENT, RUNTIME, learn_conversation, record_failure, start

# agno.models.<package> -> the semconv provider name.
_PROVIDERS = {
    "openai": sc.PROVIDER_OPENAI,
    "anthropic": "anthropic",
    "aws": "aws.bedrock",
    "azure": "azure.ai.inference",
    "google": "gcp.gemini",
    "vertexai": "gcp.vertex_ai",
    "groq": "groq",
    "mistral": "mistral_ai",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "cohere": "cohere",
    "perplexity": "perplexity",
    "ibm": "ibm.watsonx.ai",
}
_OPENAI_URL = "https://api.openai.com/v1"
# Providers whose input token count leaves out the cached tokens (the semconv's includes them).
_INPUT_WITHOUT_CACHE = frozenset({"anthropic"})
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_call",
    "max_tokens": "length",
    "completed": "stop",
    "incomplete": "length",
}
_ARG_POSITIONS = {"messages": 0, "tools": 3, "run_response": 5}

# The request in progress in this context, for the response parsers to report to.
ACTIVE: contextvars.ContextVar[_Request | None] = contextvars.ContextVar(
    "agentel_agno_request", default=None
)


def provider_of(model: Any) -> str | None:
    """The semconv provider of an Agno model object, from the package its class lives in."""
    if model is None or isinstance(model, str):
        return None
    parts = type(model).__module__.split(".")
    if len(parts) > 2 and parts[0] == "agno" and parts[1] == "models" and parts[2] in _PROVIDERS:
        return _PROVIDERS[parts[2]]
    declared = getattr(model, "provider", None)
    return declared.lower() if isinstance(declared, str) and declared else sc.ERROR_TYPE_OTHER


def _server(model: Any) -> tuple[str | None, int | None]:
    for holder in (model, getattr(model, "client", None), getattr(model, "async_client", None)):
        url = getattr(holder, "base_url", None)
        if url:
            return server_of_url(url)
    if provider_of(model) == sc.PROVIDER_OPENAI:
        return server_of_url(_OPENAI_URL)
    return None, None


def _profile_of(model: Any) -> ChatProfile:
    request_model = str(getattr(model, "id", None) or type(model).__name__)
    host, port = _server(model)
    return ChatProfile(request_model, provider_of(model) or sc.ERROR_TYPE_OTHER, host, port)


def _read_setting(model: Any) -> Any:
    def read(name: str) -> Any:
        value = getattr(model, name, None)
        if value is None and name == "max_tokens":
            value = getattr(model, "max_completion_tokens", None) or getattr(
                model, "max_output_tokens", None
            )
        return value

    return read


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> Any:
    if name in kwargs:
        return kwargs[name]
    position = _ARG_POSITIONS[name]
    return args[position] if len(args) > position else None


class _Request:
    """A chat span plus what the response tells us, piece by piece when streamed."""

    __slots__ = (
        "call",
        "finish_reasons",
        "model",
        "reasoning",
        "response_id",
        "response_model",
        "stream",
        "text",
        "tokens",
        "tool_calls",
    )

    def __init__(self, call: ChatCall, model: Any, stream: bool) -> None:
        self.call = call
        self.model = model
        self.stream = stream
        self.response_id: str | None = None
        self.response_model: str | None = None
        self.finish_reasons: list[str] = []
        self.tokens: Tokens | None = None
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: list[Any] = []

    # --- the provider's raw response (from the parsers) -------------------------------------
    def raw(self, response: Any) -> None:
        response = getattr(response, "response", None) or response  # Responses API events
        response_id = getattr(response, "id", None)
        if isinstance(response_id, str) and self.response_id is None:
            self.response_id = response_id
        response_model = getattr(response, "model", None)
        if isinstance(response_model, str) and self.response_model is None:
            self.response_model = response_model
        for choice in getattr(response, "choices", None) or ():
            reason = getattr(choice, "finish_reason", None)
            if reason:
                self.finish_reasons.append(chat_messages.finish_reason(reason))
        reason = getattr(response, "stop_reason", None)
        if isinstance(reason, str):
            self.finish_reasons.append(_FINISH_REASONS.get(reason, reason))

    # --- Agno's parsed response -------------------------------------------------------------
    def observe(self, response: Any) -> None:
        """A ModelResponse: the whole one, or one streamed delta of it."""
        text = getattr(response, "content", None)
        calls = getattr(response, "tool_calls", None)
        if self.stream and (text or calls):
            self.call.first_chunk()
        if isinstance(text, str) and text:
            self.text.append(text)
        reasoning = getattr(response, "reasoning_content", None)
        if isinstance(reasoning, str) and reasoning:
            self.reasoning.append(reasoning)
        if calls:
            self.tool_calls.extend(calls)
        usage = getattr(response, "response_usage", None)
        if usage is not None:
            self.tokens = _tokens(usage, self.call.profile.provider)

    def succeed(self) -> None:
        finish = tuple(self.finish_reasons) or (("tool_call",) if self.tool_calls else ("stop",))
        self.call.succeed(
            self.tokens or (0, 0, 0, 0, 0), finish, self.response_id, self.response_model
        )
        if self.call.capture.enabled:
            try:
                self._record_output(finish[0])
            except Exception:
                log_once("agno-content-output", "agentel: could not convert model output")

    def _record_output(self, finish: str) -> None:
        settings = self.call.telemetry.content
        reply = {"content": "".join(self.text) or None, "tool_calls": _merged(self.tool_calls)}
        message = chat_messages.output_message(reply, finish, settings.capture_blobs)
        if self.reasoning:
            message["parts"].insert(0, content.reasoning_part("".join(self.reasoning)))
        value = content.to_json([message], settings.max_length)
        self.call.record_output({sc.GEN_AI_OUTPUT_MESSAGES: value})

    def end(self, exc: BaseException | None, completed: bool) -> None:
        if exc is not None:
            record_failure(self.call.node, exc)
        elif completed:
            self.succeed()
        self.call.end()


def _tokens(usage: Any, provider: str) -> Tokens:
    def number(name: str) -> int:
        value = getattr(usage, name, None)
        return value if isinstance(value, int) else 0

    cache_read = number("cache_read_tokens")
    cache_write = number("cache_write_tokens")
    input_tokens = number("input_tokens")
    if provider in _INPUT_WITHOUT_CACHE:
        input_tokens += cache_read + cache_write
    return (
        input_tokens,
        number("output_tokens"),
        cache_read,
        cache_write,
        number("reasoning_tokens"),
    )


def _merged(tool_calls: list[Any]) -> list[dict[str, Any]]:
    """Streamed tool calls come in pieces keyed by index; whole ones pass through."""
    merged: dict[Any, dict[str, Any]] = {}
    for position, call in enumerate(tool_calls):
        key = chat_messages.field(call, "index", position)
        entry = merged.setdefault(key, {"id": None, "function": {"name": None, "arguments": ""}})
        if chat_messages.field(call, "id"):
            entry["id"] = chat_messages.field(call, "id")
        function = chat_messages.field(call, "function") or {}
        if chat_messages.field(function, "name"):
            entry["function"]["name"] = chat_messages.field(function, "name")
        arguments = chat_messages.field(function, "arguments")
        if isinstance(arguments, str):
            entry["function"]["arguments"] += arguments
    return list(merged.values())


def _start(model: Any, args: Any, kwargs: Any, stream: bool) -> _Request | None:
    telemetry = RUNTIME.telemetry
    if telemetry is None:
        return None
    active = ACTIVE.get()
    if active is not None and active.model is model:
        return None  # a subclass calling super(): one request, one span
    return guarded(_begin, "chat", telemetry, model, args, kwargs, stream)  # type: ignore[no-any-return]


def _begin(telemetry: Telemetry, model: Any, args: Any, kwargs: Any, stream: bool) -> _Request:
    profile = cached_profile(model, _profile_of)
    attributes = dict(profile.attributes)
    attributes[sc.GEN_AI_REQUEST_STREAM] = stream
    add_request_settings(attributes, _read_setting(model))
    parent = CURRENT.get()
    run_response = _argument(args, kwargs, "run_response")
    if run_response is not None:
        learn_conversation(parent, getattr(run_response, "session_id", None))
    node = start(
        telemetry, "chat", f"{sc.OP_CHAT} {profile.request_model}", attributes, SpanKind.CLIENT
    )
    call = ChatCall(telemetry, node, telemetry.content.capture, profile)
    agent = node.agent
    if agent is not None and agent.provider is None:
        agent.provider = profile.provider
        agent.set_later(sc.GEN_AI_PROVIDER_NAME, profile.provider)
    request = _Request(call, model, stream)
    if call.capture.enabled:
        try:
            _record_input(call, args, kwargs)
        except Exception:
            log_once("agno-content-input", "agentel: could not convert model input")
    return request


def _record_input(call: ChatCall, args: Any, kwargs: Any) -> None:
    settings = call.telemetry.content
    limit = settings.max_length
    messages = list(_argument(args, kwargs, "messages") or ())
    values: dict[str, str] = {}
    system = [m for m in messages if chat_messages.field(m, "role") in ("system", "developer")]
    if system:
        instructions = [
            {"type": "text", "content": str(chat_messages.field(m, "content") or "")}
            for m in system
        ]
        values[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json(instructions, limit)
    others = [m for m in messages if m not in system]
    values[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(
        chat_messages.input_messages(others, settings.capture_blobs), limit
    )
    tools = _argument(args, kwargs, "tools")
    if tools:
        values[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(
            chat_messages.tool_definitions(tools), limit
        )
    call.record_input(values)


# --- the wrappers ---------------------------------------------------------------------------
def _on_error(request: _Request) -> Any:
    return lambda exc: safely(lambda: record_failure(request.call.node, exc), "chat-error")


def wrap_invoke(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    request = _start(instance, args, kwargs, stream=False)
    if request is None:
        return wrapped(*args, **kwargs)
    try:
        response = call_within(
            request.call.node.otel_context(),
            _on_error(request),
            wrapped,
            args,
            kwargs,
            (ACTIVE, request),
        )
    except BaseException as exc:
        safely(lambda exc=exc: request.end(exc, False), "chat-end")
        raise
    safely(lambda: request.observe(response), "chat-response")
    safely(lambda: request.end(None, True), "chat-end")
    return response


async def wrap_ainvoke(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    request = _start(instance, args, kwargs, stream=False)
    if request is None:
        return await wrapped(*args, **kwargs)
    try:
        response = await call_within_async(
            request.call.node.otel_context(),
            _on_error(request),
            wrapped,
            args,
            kwargs,
            (ACTIVE, request),
        )
    except BaseException as exc:
        safely(lambda exc=exc: request.end(exc, False), "chat-end")
        raise
    safely(lambda: request.observe(response), "chat-response")
    safely(lambda: request.end(None, True), "chat-end")
    return response


def wrap_invoke_stream(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Iterator[Any]:
    return _lazy_stream(wrapped, instance, args, kwargs)


def _lazy_stream(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Iterator[Any]:
    """The span starts when Agno asks for the first chunk, as the request itself does."""
    request = _start(instance, args, kwargs, stream=True)
    chunks = wrapped(*args, **kwargs)
    if request is None:
        yield from chunks
        return
    yield from traced_iterator(
        request.call.node.otel_context(), chunks, request.observe, request.end, (ACTIVE, request)
    )


def wrap_ainvoke_stream(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> AsyncIterator[Any]:
    return _lazy_async_stream(wrapped, instance, args, kwargs)


async def _lazy_async_stream(
    wrapped: Any, instance: Any, args: Any, kwargs: Any
) -> AsyncIterator[Any]:
    request = _start(instance, args, kwargs, stream=True)
    chunks = wrapped(*args, **kwargs)
    if request is None:
        async for chunk in chunks:
            yield chunk
        return
    traced = traced_async_iterator(
        request.call.node.otel_context(), chunks, request.observe, request.end, (ACTIVE, request)
    )
    try:
        async for chunk in traced:
            yield chunk
    finally:
        await traced.aclose()


def peek_response(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """The provider's raw response on its way into Agno's parser: keep its id, model and
    finish reason for the request in progress. Changes nothing."""
    request = ACTIVE.get()
    if request is not None and request.model is instance and args:
        safely(lambda: request.raw(args[0]), "chat-raw")
    return wrapped(*args, **kwargs)
