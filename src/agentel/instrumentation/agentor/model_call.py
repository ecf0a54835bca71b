"""One model call (``complete`` / ``stream`` of Agentor's model classes) on the core's chat span.

Agentor's models speak Chat Completions (``ChatCompletionsModel`` over the ``openai`` client,
``LiteLLMModel`` over LiteLLM), so requests and replies convert with the core's Chat
Completions converter. A non-streamed reply keeps the provider's raw response, which carries
the response id and model, the finish reason and the detailed token counts; a streamed one
gives only what Agentor keeps of it (its text, tool calls and input/output tokens).
"""

from __future__ import annotations

from typing import Any

from agentel import content
from agentel import semconv as sc
from agentel.instrumentation.core import chat_messages
from agentel.instrumentation.core.chat import (
    ChatCall,
    ChatProfile,
    add_request_settings,
    cached_profile,
    litellm_provider,
    openai_usage_tokens,
    server_of_url,
)
from agentel.instrumentation.core.guest import (
    StreamPlan,
    argument,
    call_within_async,
    guarded,
    safely,
    traced_when_started,
)
from agentel.instrumentation.core.nodes import CHAT
from agentel.instrumentation.core.scope import record
from agentel.instrumentation.core.telemetry import Telemetry

from .runtime import ACTIVE, RUNTIME, Active

_MESSAGES, _TOOLS = ("messages", 0), ("tools", 1)  # Model.complete / stream parameters


def provider_of(model: Any) -> str:
    """``openai`` for the Chat Completions model, the provider of a LiteLLM model's prefix,
    else what the model object says about itself (``provider_name``), else ``_OTHER``."""
    class_name = type(model).__name__
    if class_name == "ChatCompletionsModel":
        return sc.PROVIDER_OPENAI
    if class_name == "LiteLLMModel":
        return litellm_provider(str(getattr(model, "model", "") or ""))
    declared = getattr(model, "provider_name", None)
    return declared if isinstance(declared, str) else sc.ERROR_TYPE_OTHER


def _params(model: Any) -> dict[str, Any]:
    params = getattr(model, "params", None)
    return params if isinstance(params, dict) else {}


def _profile_of(model: Any) -> ChatProfile:
    request_model = str(getattr(model, "model", None) or type(model).__name__)
    client = getattr(model, "client", None)
    url = getattr(client, "base_url", None)
    if url is None:
        params = _params(model)
        url = params.get("api_base") or params.get("base_url")
    host, port = server_of_url(url)
    return ChatProfile(request_model, provider_of(model), host, port)


class AgentorChat(ChatCall):
    """The chat span of one ``complete`` / ``stream`` call."""

    __slots__ = ("final", "run")

    @classmethod
    def begin(
        cls, telemetry: Telemetry, model: Any, args: Any, kwargs: Any, stream: bool
    ) -> AgentorChat | None:
        active = ACTIVE.get()
        if active is not None and (active.node is None or active.node.kind == CHAT):
            return None  # an untraced run, or a model class calling another: one call, one span
        profile = cached_profile(model, _profile_of)
        attributes = dict(profile.attributes)
        attributes[sc.GEN_AI_REQUEST_STREAM] = stream
        add_request_settings(attributes, _params(model).get)
        parent = active.node if active is not None else None
        call = cls.start(telemetry, profile, parent, attributes)
        assert isinstance(call, AgentorChat)
        call.final = None
        call.run = active.run if active is not None else None
        if call.capture.enabled:
            safely(lambda: call._record_request(args, kwargs), "agentor-chat-input")
        return call

    def window(self) -> Active:
        return Active(self.node, self.run)

    def fail(self, exc: BaseException) -> None:
        record(self.node, exc, self.run)

    def _record_request(self, args: Any, kwargs: Any) -> None:
        settings = self.telemetry.content
        values: dict[str, str] = {}
        messages = argument(args, kwargs, *_MESSAGES)
        if messages:
            converted = chat_messages.input_messages(messages, settings.capture_blobs)
            values[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(converted, settings.max_length)
        tools = argument(args, kwargs, *_TOOLS)
        if tools:
            definitions = chat_messages.tool_definitions(tools)
            values[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(definitions, settings.max_length)
        self.record_input(values)

    def observe(self, chunk: Any) -> None:
        if getattr(chunk, "delta", None):
            self.first_chunk()
        final = getattr(chunk, "final", None)
        if final is not None:
            self.final = final

    def succeed_with(self, response: Any) -> None:
        """Record Agentor's ``ModelResponse`` (and the provider's reply it keeps, if any)."""
        raw = getattr(response, "raw", None)
        choices = getattr(raw, "choices", None) if raw is not None else None
        if choices:
            reason = getattr(choices[0], "finish_reason", None)
            tokens = openai_usage_tokens(getattr(raw, "usage", None))
            response_id, response_model = getattr(raw, "id", None), getattr(raw, "model", None)
        else:
            reason = "tool_calls" if response.tool_calls else "stop"
            tokens = openai_usage_tokens(response.usage)
            response_id = response_model = None
        finish = chat_messages.finish_reason(reason)
        self.succeed(tokens, (finish,), response_id, response_model)
        if self.capture.enabled:
            safely(lambda: self._record_reply(response, reason), "agentor-chat-output")

    def _record_reply(self, response: Any, reason: Any) -> None:
        settings = self.telemetry.content
        reply: dict[str, Any] = {"role": "assistant", "content": response.content}
        reply["tool_calls"] = [
            {"id": call.id, "function": {"name": call.name, "arguments": call.arguments}}
            for call in response.tool_calls
        ]
        message = chat_messages.output_message(reply, reason, settings.capture_blobs)
        if response.reasoning:
            message["parts"].insert(0, content.reasoning_part(response.reasoning))
        values = {sc.GEN_AI_OUTPUT_MESSAGES: content.to_json([message], settings.max_length)}
        self.record_output(values)

    def stream_ended(self, exc: BaseException | None, completed: bool) -> None:
        if exc is not None and not isinstance(exc, GeneratorExit):
            self.fail(exc)
        elif completed and self.final is not None:
            self.succeed_with(self.final)
        self.end()


def _begin(model: Any, args: Any, kwargs: Any, stream: bool) -> AgentorChat | None:
    telemetry = RUNTIME.telemetry
    if telemetry is None:
        return None
    return guarded(AgentorChat.begin, "chat", telemetry, model, args, kwargs, stream)


async def wrap_complete(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    call = _begin(instance, args, kwargs, stream=False)
    if call is None:
        return await wrapped(*args, **kwargs)
    try:
        response = await call_within_async(
            call.node.otel_context(), call.fail, wrapped, args, kwargs, (ACTIVE, call.window())
        )
    except BaseException:
        safely(call.end, "chat-end")
        raise
    safely(lambda: call.succeed_with(response), "chat-response")
    safely(call.end, "chat-end")
    return response


def wrap_stream(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    chunks = wrapped(*args, **kwargs)
    if RUNTIME.telemetry is None:
        return chunks
    return traced_when_started(chunks, lambda: _stream_plan(instance, args, kwargs))


def _stream_plan(model: Any, args: Any, kwargs: Any) -> StreamPlan | None:
    call = _begin(model, args, kwargs, stream=True)
    if call is None:
        return None
    return StreamPlan(
        call.node.otel_context(), call.observe, call.stream_ended, (ACTIVE, call.window())
    )
