"""One SDK model call (``get_response`` / ``stream_response``) on the core's chat span.

This module reads the SDK's own objects (its model classes, ``ModelSettings``, Responses
items and usage) into the plain values the core's :class:`ChatCall` records; the span's shape,
the token sums and the metrics are the core's.
"""

from __future__ import annotations

from typing import Any

import wrapt

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
from agentel.instrumentation.core.guest import log_once
from agentel.instrumentation.core.nodes import Node
from agentel.instrumentation.core.telemetry import Telemetry
from agentel.settings import ContentCapture

from . import convert

# The SDK's stand-in id for responses built from other APIs: never recorded as an id.
FAKE_RESPONSES_ID = "__fake_id__"
_OPENAI_MODEL_CLASSES = frozenset(
    {"OpenAIResponsesModel", "OpenAIChatCompletionsModel", "OpenAIResponsesWSModel"}
)
# Positions of Model.get_response / stream_response parameters, for positional calls.
_ARG_POSITIONS = {
    "system_instructions": 0,
    "input": 1,
    "model_settings": 2,
    "tools": 3,
    "handoffs": 5,
    "tracing": 6,
}


def argument(args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> Any:
    if name in kwargs:
        return kwargs[name]
    position = _ARG_POSITIONS[name]
    return args[position] if len(args) > position else None


def provider_of(model: Any, request_model: str) -> str:
    """The semconv provider: ``openai`` for the SDK's OpenAI models, LiteLLM's prefix, else
    what the model object says about itself (``provider_name``), else ``_OTHER``."""
    class_name = type(model).__name__
    if class_name in _OPENAI_MODEL_CLASSES:
        return sc.PROVIDER_OPENAI
    if class_name == "LitellmModel":
        return litellm_provider(request_model)
    declared = getattr(model, "provider_name", None)
    return declared if isinstance(declared, str) else sc.ERROR_TYPE_OTHER


def _profile_of(model: Any) -> ChatProfile:
    request_model = str(getattr(model, "model", None) or type(model).__name__)
    client = getattr(model, "_client", None)
    host, port = server_of_url(getattr(client, "base_url", None))
    return ChatProfile(request_model, provider_of(model, request_model), host, port)


def _read_settings(settings: Any) -> Any:
    """A reader of ``ModelSettings`` by setting name; ``stop`` and ``seed`` travel in its
    ``extra_args``. Its fields are read from one dict (a bound ``dict.get``, no frame per read)."""
    values = getattr(settings, "__dict__", None)
    if type(values) is dict:
        extra = values.get("extra_args")
        if extra:
            values = {**values, "stop": extra.get("stop"), "seed": extra.get("seed")}
        elif "stop" in values or "seed" in values:
            values = {**values, "stop": None, "seed": None}
        return values.get
    extra = getattr(settings, "extra_args", None) or {}

    def read(name: str) -> Any:
        if name in ("stop", "seed"):
            return extra.get(name)
        return getattr(settings, name, None)

    return read


class ModelCall(ChatCall):
    """The chat span of one ``get_response`` / ``stream_response`` call, and what the SDK's
    own model span tells about it."""

    __slots__ = ("model", "sdk_response", "sdk_span_id", "server_id", "server_model")

    # --- start ------------------------------------------------------------------------------
    @classmethod
    def begin(
        cls,
        telemetry: Telemetry,
        model: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        stream: bool,
        parent: Node | None,
    ) -> ModelCall:
        profile = cached_profile(model, _profile_of)
        attributes = dict(profile.attributes)
        attributes[sc.GEN_AI_REQUEST_STREAM] = stream
        settings = argument(args, kwargs, "model_settings")
        if settings is not None:
            add_request_settings(attributes, _read_settings(settings))
        # An OpenAI server-side conversation names the conversation when no group id does
        # (start_node puts the trace's group id over it).
        server_conversation = kwargs.get("conversation_id")
        if isinstance(server_conversation, str) and server_conversation:
            attributes[sc.GEN_AI_CONVERSATION_ID] = server_conversation
        tracing = argument(args, kwargs, "tracing")
        capture = telemetry.content.capture
        if tracing is not None and not tracing.include_data():
            capture = ContentCapture.NO_CONTENT
        request_content = None
        if capture.enabled:
            try:
                request_content = _request_content(telemetry, args, kwargs)
            except Exception:
                log_once("content-input", "agentel: could not convert model input")
        call = cls.start(telemetry, profile, parent, attributes, capture, request_content)
        assert isinstance(call, ModelCall)
        call.model = model
        call.sdk_response = None
        call.sdk_span_id = None
        call.server_id = None
        call.server_model = None
        return call

    # --- streaming --------------------------------------------------------------------------
    def observe(self, event: Any) -> None:
        event_type = getattr(event, "type", None)
        if self.first_chunk_at is None and event_type and event_type.endswith(".delta"):
            self.first_chunk()
        if event_type in ("response.completed", "response.incomplete", "response.failed"):
            self.sdk_response = getattr(event, "response", None)

    def sdk_span_done(self, sdk_span: Any) -> None:
        """The SDK's own model span ended inside our call: keep what only it carries."""
        response = getattr(sdk_span.span_data, "response", None)
        if response is not None:
            self.sdk_response = response

    def saw_completion(self, result: Any) -> Any:
        """What the OpenAI client returned to a Chat Completions model inside this call: the
        server's completion id and model, which the SDK does not keep (its response carries a
        placeholder id and the requested model). A stream is watched for its first chunk."""
        if getattr(result, "choices", None) is not None:
            self._note_server(result)
            return result
        if hasattr(result, "__aiter__"):
            return _ChunkWatcher(result, self)
        return result

    def _note_server(self, completion: Any) -> None:
        if self.server_id is None:
            self.server_id = getattr(completion, "id", None) or None
            self.server_model = getattr(completion, "model", None) or None

    # --- end --------------------------------------------------------------------------------
    def succeed_with(self, response: Any) -> None:
        """Record a ModelResponse (non-streaming) or, when None, the streamed final response."""
        raw = self.sdk_response
        if response is not None:
            output = response.output
            usage = response.usage
            response_id = getattr(response, "response_id", None)
        elif raw is not None:
            output = raw.output
            usage = raw.usage
            response_id = raw.id
        else:
            return
        if response_id == FAKE_RESPONSES_ID or not response_id:
            response_id = self.server_id
        response_model = self.server_model or getattr(raw, "model", None)
        incomplete = getattr(getattr(raw, "incomplete_details", None), "reason", None)
        called = self._record_tool_calls(output)
        finish = convert.finish_reason(output, incomplete, called)
        response_content = None
        if self.capture.enabled:
            try:
                settings = self.telemetry.content
                messages = convert.output_messages_json(
                    output, finish, settings.capture_blobs, settings.max_length
                )
                response_content = {sc.GEN_AI_OUTPUT_MESSAGES: messages}
            except Exception:
                log_once("content-output", "agentel: could not convert model output")
        tokens = openai_usage_tokens(usage)
        self.succeed(tokens, (finish,), response_id, response_model, response_content)

    def _record_tool_calls(self, output: Any) -> bool:
        """Remember call ids by tool name so a handoff span can name the call that made it;
        whether the output calls a function (for the finish reason, in the same pass)."""
        agent = self.node.agent
        called = False
        for item in output:
            if chat_messages.field(item, "type") == "function_call":
                called = True
                if agent is not None:
                    if agent.calls is None:
                        agent.calls = {}
                    agent.calls[item.name] = item.call_id
        return called


class _ChunkWatcher(wrapt.ObjectProxy):  # type: ignore[misc]
    """The client's chunk stream as the SDK sees it, noting the server's id and model from
    the first chunk that has them; everything else is the stream itself."""

    def __init__(self, stream: Any, call: ModelCall) -> None:
        super().__init__(stream)
        self._self_call = call

    def __aiter__(self) -> Any:
        return self._chunks()

    async def _chunks(self) -> Any:
        call = self._self_call
        async for chunk in self.__wrapped__:
            if call.server_id is None:
                try:
                    call._note_server(chunk)
                except Exception:
                    log_once("chat-chunk", "agentel: could not read a completion chunk")
            yield chunk


def _request_content(
    telemetry: Telemetry, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, str]:
    """The request's content attributes, known before the call starts."""
    settings = telemetry.content
    limit = settings.max_length
    values: dict[str, str] = {}
    instructions = argument(args, kwargs, "system_instructions")
    if instructions:
        values[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = convert.system_instructions_json(
            instructions, limit
        )
    model_input = argument(args, kwargs, "input")
    if model_input is not None:
        values[sc.GEN_AI_INPUT_MESSAGES] = convert.input_messages_json(
            model_input, settings.capture_blobs, limit
        )
    tools = argument(args, kwargs, "tools") or []
    handoffs = argument(args, kwargs, "handoffs") or []
    if tools or handoffs:
        values[sc.GEN_AI_TOOL_DEFINITIONS] = convert.tool_definitions_json(tools, handoffs, limit)
    return values
