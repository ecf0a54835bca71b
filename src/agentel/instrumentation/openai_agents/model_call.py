"""One model call's chat span: request attributes in, response attributes and metrics out.

Kept apart from the wrappers because both the non-streaming and the streaming wrapper drive
the same object, and because this is the hottest path agentel has (one per model turn).
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from opentelemetry.trace import SpanKind

from agentel import content
from agentel import semconv as sc
from agentel.settings import ContentCapture

from . import convert, state
from .state import Node, Telemetry, usage_attributes

_OPENAI_MODEL_CLASSES = frozenset(
    {"OpenAIResponsesModel", "OpenAIChatCompletionsModel", "OpenAIResponsesWSModel"}
)
_SETTINGS_ATTRIBUTES = (
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P),
    ("max_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS),
    ("frequency_penalty", sc.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", sc.GEN_AI_REQUEST_PRESENCE_PENALTY),
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
        return request_model.split("/", 1)[0] if "/" in request_model else "litellm"
    declared = getattr(model, "provider_name", None)
    return declared if isinstance(declared, str) else sc.ERROR_TYPE_OTHER


def _server(model: Any) -> tuple[str | None, int | None]:
    client = getattr(model, "_client", None)
    url = getattr(client, "base_url", None)
    if url is None:
        return None, None
    host = getattr(url, "host", None)
    port = getattr(url, "port", None)
    if port is None:
        port = 443 if getattr(url, "scheme", "https") == "https" else 80
    return host, port


def _field(obj: Any, name: str) -> int:
    """An int field of a usage object, read from ``__dict__`` where there is one: a missing
    field on a pydantic model costs an exception inside ``getattr``, several microseconds."""
    if obj is None:
        return 0
    values = getattr(obj, "__dict__", None)
    value = values.get(name) if values is not None else getattr(obj, name, None)
    return value if isinstance(value, int) else 0


def _token_counts(usage: Any) -> tuple[int, int, int, int, int]:
    """(input incl. cached, output, cache read, cache write, reasoning) from any usage."""
    if usage is None:
        return (0, 0, 0, 0, 0)
    values = getattr(usage, "__dict__", None) or {}
    input_details = values.get("input_tokens_details")
    output_details = values.get("output_tokens_details")
    return (
        _field(usage, "input_tokens"),
        _field(usage, "output_tokens"),
        _field(input_details, "cached_tokens"),
        _field(input_details, "cache_write_tokens"),
        _field(output_details, "reasoning_tokens"),
    )


class _ModelProfile:
    """What a model object says about itself, read once per model instead of once per call."""

    __slots__ = ("attributes", "metric_attributes", "provider", "request_model")

    def __init__(self, model: Any) -> None:
        self.request_model = str(getattr(model, "model", None) or type(model).__name__)
        self.provider = provider_of(model, self.request_model)
        self.metric_attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT,
            sc.GEN_AI_PROVIDER_NAME: self.provider,
            sc.GEN_AI_REQUEST_MODEL: self.request_model,
        }
        host, port = _server(model)
        if host is not None:
            self.metric_attributes[sc.SERVER_ADDRESS] = host
            self.metric_attributes[sc.SERVER_PORT] = port
        self.attributes = dict(self.metric_attributes)


_profiles: weakref.WeakKeyDictionary[Any, _ModelProfile] = weakref.WeakKeyDictionary()


def _profile(model: Any) -> _ModelProfile:
    try:
        profile = _profiles.get(model)
        if profile is None:
            profile = _profiles[model] = _ModelProfile(model)
        return profile
    except TypeError:  # a model object that cannot be weakly referenced or hashed
        return _ModelProfile(model)


class ModelCall:
    """The chat span of one ``get_response`` / ``stream_response`` call."""

    __slots__ = (
        "capture",
        "first_chunk_at",
        "metric_attributes",
        "model",
        "node",
        "sdk_response",
        "sdk_span_id",
        "started",
        "telemetry",
    )

    def __init__(self, telemetry: Telemetry, model: Any, node: Node, capture: ContentCapture):
        self.telemetry = telemetry
        self.model = model
        self.node = node
        self.capture = capture
        self.sdk_span_id: str | None = None
        self.sdk_response: Any = None
        self.first_chunk_at: float | None = None
        self.started = time.perf_counter()
        self.metric_attributes: dict[str, Any] = {}

    # --- start ------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        telemetry: Telemetry,
        model: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        stream: bool,
        parent: Node | None,
    ) -> ModelCall:
        profile = _profile(model)
        attributes = dict(profile.attributes)
        attributes[sc.GEN_AI_REQUEST_STREAM] = stream
        settings = argument(args, kwargs, "model_settings")
        if settings is not None:
            _add_settings(attributes, settings)
        # An OpenAI server-side conversation names the conversation when no group id does
        # (start_node puts the trace's group id over it).
        server_conversation = kwargs.get("conversation_id")
        if isinstance(server_conversation, str) and server_conversation:
            attributes[sc.GEN_AI_CONVERSATION_ID] = server_conversation
        provider = profile.provider
        request_model = profile.request_model
        name = f"{sc.OP_CHAT} {request_model}"
        if parent is not None:
            node = telemetry.start_node(state.CHAT, name, "", parent, attributes, SpanKind.CLIENT)
            agent = parent.agent
            if agent is not None and agent.provider is None:
                agent.provider = provider
                agent.span.set_attribute(sc.GEN_AI_PROVIDER_NAME, provider)
        else:
            span = telemetry.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
            node = Node(span, state.CHAT, "", None, None, None)
        tracing = argument(args, kwargs, "tracing")
        capture = telemetry.content.capture
        if tracing is not None and not tracing.include_data():
            capture = ContentCapture.NO_CONTENT
        call = cls(telemetry, model, node, capture)
        call.metric_attributes = dict(profile.metric_attributes)
        if capture.enabled:
            try:
                call._record_input(args, kwargs)
            except Exception:
                state.log_once("content-input", "agentel: could not convert model input")
        return call

    def _record_input(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        settings = self.telemetry.content
        limit = settings.max_length
        values: dict[str, str] = {}
        instructions = argument(args, kwargs, "system_instructions")
        if instructions:
            values[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json(
                convert.system_instructions(instructions), limit
            )
        model_input = argument(args, kwargs, "input")
        if model_input is not None:
            values[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(
                convert.input_messages(model_input, settings.capture_blobs), limit
            )
        tools = argument(args, kwargs, "tools") or []
        handoffs = argument(args, kwargs, "handoffs") or []
        if tools or handoffs:
            values[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(
                convert.tool_definitions(tools, handoffs), limit
            )
        self._put_content(values)
        agent = self.node.agent
        if agent is not None and not agent.content_started:
            agent.content_started = True
            if self.capture.on_span:
                agent.span.set_attributes(values)

    def _put_content(self, values: dict[str, str]) -> None:
        if self.capture.on_span:
            self.node.span.set_attributes(values)
        if self.capture.as_event:
            self.node.span.add_event(sc.EVENT_CLIENT_INFERENCE_DETAILS, values)

    # --- streaming --------------------------------------------------------------------------
    def observe(self, event: Any) -> None:
        event_type = getattr(event, "type", None)
        if self.first_chunk_at is None and event_type and event_type.endswith(".delta"):
            self.first_chunk_at = time.perf_counter()
        if event_type in ("response.completed", "response.incomplete", "response.failed"):
            self.sdk_response = getattr(event, "response", None)

    def sdk_span_done(self, sdk_span: Any) -> None:
        """The SDK's own model span ended inside our call: keep what only it carries."""
        response = getattr(sdk_span.span_data, "response", None)
        if response is not None:
            self.sdk_response = response

    # --- end --------------------------------------------------------------------------------
    def succeed(self, response: Any) -> None:
        """Record a ModelResponse (non-streaming) or, when None, the streamed final response."""
        span = self.node.span
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
        incomplete = getattr(getattr(raw, "incomplete_details", None), "reason", None)
        finish = convert.finish_reason(output, incomplete)
        tokens = _token_counts(usage)
        attributes: dict[str, Any] = usage_attributes(tokens)
        attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = (finish,)
        if response_id:
            attributes[sc.GEN_AI_RESPONSE_ID] = response_id
        response_model = getattr(raw, "model", None)
        if response_model:
            attributes[sc.GEN_AI_RESPONSE_MODEL] = response_model
            self.metric_attributes[sc.GEN_AI_RESPONSE_MODEL] = response_model
        span.set_attributes(attributes)
        node = self.node
        for target in (node.agent, node.workflow):
            if target is not None:
                target.add_usage(tokens)
        self._record_tool_calls(output)
        self._record_token_metrics(tokens)
        if self.capture.enabled:
            try:
                self._record_output(output, finish)
            except Exception:
                state.log_once("content-output", "agentel: could not convert model output")

    def _record_tool_calls(self, output: Any) -> None:
        """Remember call ids by tool name so a handoff span can name the call that made it."""
        agent = self.node.agent
        if agent is None:
            return
        for item in output:
            if getattr(item, "type", None) == "function_call":
                if agent.calls is None:
                    agent.calls = {}
                agent.calls[item.name] = item.call_id

    def _record_output(self, output: Any, finish: str) -> None:
        settings = self.telemetry.content
        messages = convert.output_messages(output, finish, settings.capture_blobs)
        values = {sc.GEN_AI_OUTPUT_MESSAGES: content.to_json(messages, settings.max_length)}
        self._put_content(values)
        agent = self.node.agent
        if agent is not None and self.capture.on_span:
            agent.span.set_attributes(values)

    def _record_token_metrics(self, tokens: tuple[int, int, int, int, int]) -> None:
        histogram = self.telemetry.token_usage
        attributes = dict(self.metric_attributes)
        attributes[sc.GEN_AI_TOKEN_TYPE] = sc.TOKEN_TYPE_INPUT
        histogram.record(tokens[0], attributes)
        attributes = dict(attributes)
        attributes[sc.GEN_AI_TOKEN_TYPE] = sc.TOKEN_TYPE_OUTPUT
        histogram.record(tokens[1], attributes)

    def end(self) -> None:
        now = time.perf_counter()
        span = self.node.span
        if self.first_chunk_at is not None:
            span.set_attribute(
                sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, self.first_chunk_at - self.started
            )
        if self.node.exception is not None:
            self.metric_attributes[sc.ERROR_TYPE] = state.error_type(self.node.exception)
        self.telemetry.operation_duration.record(now - self.started, self.metric_attributes)
        span.end()


def _add_settings(attributes: dict[str, Any], settings: Any) -> None:
    for field_name, attribute in _SETTINGS_ATTRIBUTES:
        value = getattr(settings, field_name, None)
        if value is not None:
            attributes[attribute] = value
    extra = getattr(settings, "extra_args", None)
    if extra:
        stop = extra.get("stop")
        if stop is not None:
            stops = (stop,) if isinstance(stop, str) else tuple(stop)
            attributes[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = stops
        if extra.get("seed") is not None:
            attributes[sc.GEN_AI_REQUEST_SEED] = extra["seed"]
