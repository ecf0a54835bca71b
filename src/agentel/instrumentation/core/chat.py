"""One model call's ``chat`` span, whatever the framework's request and response look like.

A framework's wrapper reads its own objects into plain values (request model, provider,
settings, tokens, finish reasons, content already in the semconv shapes) and hands them here;
this module owns the span's shape, the usage sums up the tree and the two model-call metrics.
It is the hottest path agentel has (one per model turn), so what a model object says about
itself is read once per model (:func:`cached_profile`), not once per call.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry.trace import SpanKind

from agentel import semconv as sc
from agentel.settings import ContentCapture

from .guest import error_type
from .nodes import CHAT, Node, Tokens, add_usage_up, usage_attributes
from .telemetry import Telemetry


class ChatProfile:
    """What a model object says about itself: the request model, provider and server."""

    __slots__ = ("_variants", "attributes", "metric_attributes", "provider", "request_model")

    def __init__(
        self, request_model: str, provider: str, host: str | None = None, port: int | None = None
    ) -> None:
        self.request_model = request_model
        self.provider = provider
        self.metric_attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT,
            sc.GEN_AI_PROVIDER_NAME: provider,
            sc.GEN_AI_REQUEST_MODEL: request_model,
        }
        if host is not None:
            self.metric_attributes[sc.SERVER_ADDRESS] = host
            if port is not None:
                self.metric_attributes[sc.SERVER_PORT] = port
        self.attributes = dict(self.metric_attributes)
        self._variants: dict[tuple[str | None, str | None], dict[str, Any]] = {}

    def metric_variant(self, response_model: str | None, token_type: str | None) -> dict[str, Any]:
        """The metric attributes with a response model and token type, built once per pair:
        a model call records three metric points and each used to copy the dict. Callers
        must not change what this returns."""
        key = (response_model, token_type)
        variant = self._variants.get(key)
        if variant is None:
            variant = dict(self.metric_attributes)
            if response_model:
                variant[sc.GEN_AI_RESPONSE_MODEL] = response_model
            if token_type is not None:
                variant[sc.GEN_AI_TOKEN_TYPE] = token_type
            if len(self._variants) < _MAX_VARIANTS:
                self._variants[key] = variant
        return variant


# Response models seen per request model, times three: far more than any real model has.
_MAX_VARIANTS = 48

# Profiles by model object identity (model objects may compare by value and be unhashable,
# as Agno's dataclasses are), each entry dropped when its object goes. A plain dict read plus
# one weak reference call: a WeakKeyDictionary makes a new weak reference on every read.
_profiles_by_id: dict[int, tuple[weakref.ref[Any], ChatProfile]] = {}


def cached_profile(model: Any, build: Callable[[Any], ChatProfile]) -> ChatProfile:
    """The model's profile, built once per model object (a new object gets its own)."""
    key = id(model)
    entry = _profiles_by_id.get(key)
    if entry is not None and entry[0]() is model:
        return entry[1]
    profile = build(model)
    try:
        ref = weakref.ref(model, lambda _ref, key=key: _profiles_by_id.pop(key, None))
    except TypeError:  # not weakly referenceable: no safe way to keep it
        return profile
    _profiles_by_id[key] = (ref, profile)
    return profile


def server_of_url(url: Any) -> tuple[str | None, int | None]:
    """``server.address`` and ``server.port`` from an httpx URL or a URL string."""
    if url is None:
        return None, None
    if isinstance(url, str):
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        host, port, scheme = parts.hostname, parts.port, parts.scheme
    else:
        host = getattr(url, "host", None)
        port = getattr(url, "port", None)
        scheme = getattr(url, "scheme", "https")
    if host is None:
        return None, None
    if port is None:
        port = 443 if scheme == "https" else 80
    return host, port


# LiteLLM's provider prefixes whose GenAI semconv provider name is spelled differently; the
# others (anthropic, cohere, deepseek, groq, openai, perplexity, ...) are the same word.
_LITELLM_PROVIDERS = {
    "azure": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "bedrock": "aws.bedrock",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
    "vertex_ai": "gcp.vertex_ai",
    "watsonx": "ibm.watsonx.ai",
    "xai": "x_ai",
}


def litellm_provider(model: str) -> str:
    """The semconv provider of a LiteLLM model name (``gemini/gemini-2.0-flash`` ->
    ``gcp.gemini``); ``litellm`` when the name has no provider prefix."""
    if "/" not in model:
        return "litellm"
    prefix = model.split("/", 1)[0]
    return _LITELLM_PROVIDERS.get(prefix, prefix)


_SETTINGS = (
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P),
    ("max_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS),
    ("frequency_penalty", sc.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", sc.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("seed", sc.GEN_AI_REQUEST_SEED),
)


def add_request_settings(attributes: dict[str, Any], read: Callable[[str], Any]) -> None:
    """The request settings that are set, read by their common names (``temperature``,
    ``top_p``, ``max_tokens``, ``frequency_penalty``, ``presence_penalty``, ``seed``,
    ``stop``) through the framework's own ``read``."""
    for name, attribute in _SETTINGS:
        value = read(name)
        if value is not None and isinstance(value, (int, float)):
            attributes[attribute] = value
    stop = read("stop")
    if stop:
        attributes[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = (
            (stop,) if isinstance(stop, str) else tuple(str(s) for s in stop)
        )


def _int_field(obj: Any, name: str) -> int:
    """An int field of a usage object or dict, read from ``__dict__`` where there is one: a
    missing field on a pydantic model costs an exception inside ``getattr``."""
    if obj is None:
        return 0
    if isinstance(obj, dict):
        value = obj.get(name)
    else:
        values = getattr(obj, "__dict__", None)
        value = values.get(name) if values is not None else getattr(obj, name, None)
    return value if isinstance(value, int) else 0


def _sub(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    values = getattr(obj, "__dict__", None)
    return values.get(name) if values is not None else getattr(obj, name, None)


def openai_usage_tokens(usage: Any) -> Tokens:
    """Tokens from an OpenAI usage object or dict, Responses or Chat Completions shaped
    (LiteLLM returns the latter): input includes the cached tokens, as both APIs count them."""
    if usage is None:
        return (0, 0, 0, 0, 0)
    values = usage if type(usage) is dict else getattr(usage, "__dict__", None)
    if values is not None:  # one dict to read every field from: the common case, made cheap
        input_tokens = values.get("input_tokens")
        output_tokens = values.get("output_tokens")
        if input_tokens is not None or output_tokens is not None:
            return (
                input_tokens if isinstance(input_tokens, int) else 0,
                output_tokens if isinstance(output_tokens, int) else 0,
                _int_field(values.get("input_tokens_details"), "cached_tokens"),
                _int_field(values.get("input_tokens_details"), "cache_write_tokens"),
                _int_field(values.get("output_tokens_details"), "reasoning_tokens"),
            )
    if _sub(usage, "input_tokens") is not None or _sub(usage, "output_tokens") is not None:
        input_details = _sub(usage, "input_tokens_details")
        output_details = _sub(usage, "output_tokens_details")
        return (
            _int_field(usage, "input_tokens"),
            _int_field(usage, "output_tokens"),
            _int_field(input_details, "cached_tokens"),
            _int_field(input_details, "cache_write_tokens"),
            _int_field(output_details, "reasoning_tokens"),
        )
    prompt_details = _sub(usage, "prompt_tokens_details")
    completion_details = _sub(usage, "completion_tokens_details")
    return (
        _int_field(usage, "prompt_tokens"),
        _int_field(usage, "completion_tokens"),
        _int_field(prompt_details, "cached_tokens"),
        _int_field(usage, "cache_creation_input_tokens"),
        _int_field(completion_details, "reasoning_tokens"),
    )


class ChatCall:
    """The chat span of one model request, from start to end."""

    __slots__ = (
        "capture",
        "first_chunk_at",
        "node",
        "profile",
        "response_model",
        "started",
        "telemetry",
    )

    def __init__(
        self, telemetry: Telemetry, node: Node, capture: ContentCapture, profile: ChatProfile
    ) -> None:
        self.telemetry = telemetry
        self.node = node
        self.capture = capture
        self.profile = profile
        self.started = time.perf_counter()
        self.first_chunk_at: float | None = None
        self.response_model: str | None = None

    @classmethod
    def start(
        cls,
        telemetry: Telemetry,
        profile: ChatProfile,
        parent: Node | None,
        attributes: dict[str, Any],
        capture: ContentCapture | None = None,
        content: dict[str, str] | None = None,
    ) -> ChatCall:
        """Start the span with ``attributes`` (a fresh dict, from ``profile.attributes`` plus
        the request's settings) under ``parent``; the agent above learns its provider here.
        The request's ``content``, when known before the call, goes in with the attributes:
        one call into the span fewer than ``record_input`` after the start."""
        if capture is None:
            capture = telemetry.content.capture
        if content and capture.on_span:
            attributes.update(content)
        name = f"{sc.OP_CHAT} {profile.request_model}"
        node = telemetry.start_node(CHAT, name, "", parent, attributes, SpanKind.CLIENT)
        agent = node.agent
        if agent is not None and agent.provider is None:
            agent.provider = profile.provider
            agent.set_later(sc.GEN_AI_PROVIDER_NAME, profile.provider)
        call = cls(telemetry, node, capture, profile)
        if content:
            call.record_input(content, on_span=False)
        return call

    # --- content ----------------------------------------------------------------------------
    def put_content(self, values: dict[str, str], on_span: bool = True) -> None:
        """Content on the span, as an event, or both, as the capture mode says
        (``on_span=False``: the caller has already put it on the span)."""
        if on_span and self.capture.on_span:
            self.node.span.set_attributes(values)
        if self.capture.as_event:
            self.node.span.add_event(sc.EVENT_CLIENT_INFERENCE_DETAILS, values)

    def record_input(self, values: dict[str, str], on_span: bool = True) -> None:
        """The request's content; the agent's first model call also names the agent's input."""
        self.put_content(values, on_span)
        agent = self.node.agent
        if agent is not None and not agent.content_started:
            agent.content_started = True
            if self.capture.on_span:
                _later(agent, values)

    def record_output(self, values: dict[str, str], on_span: bool = True) -> None:
        """The response's content; the agent's output is its last model call's output."""
        self.put_content(values, on_span)
        agent = self.node.agent
        if agent is not None and self.capture.on_span:
            _later(agent, values)  # the last call's output wins, set once at the agent's end

    # --- response ---------------------------------------------------------------------------
    def first_chunk(self) -> None:
        if self.first_chunk_at is None:
            self.first_chunk_at = time.perf_counter()

    def succeed(
        self,
        tokens: Tokens,
        finish_reasons: tuple[str, ...],
        response_id: str | None = None,
        response_model: str | None = None,
        content: dict[str, str] | None = None,
    ) -> None:
        """The response's attributes and token metrics; its tokens sum into the tree. The
        response's ``content`` goes on the span with the attributes, in the same call."""
        attributes: dict[str, Any] = usage_attributes(tokens)
        if content and self.capture.on_span:
            attributes.update(content)
        if finish_reasons:
            attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = finish_reasons
        if response_id:
            attributes[sc.GEN_AI_RESPONSE_ID] = response_id
        if response_model:
            attributes[sc.GEN_AI_RESPONSE_MODEL] = response_model
            self.response_model = response_model
        self.node.span.set_attributes(attributes)
        if content:
            self.record_output(content, on_span=False)
        add_usage_up(self.node, tokens)
        histogram = self.telemetry.token_usage
        variant = self.profile.metric_variant
        histogram.record(tokens[0], variant(response_model or None, sc.TOKEN_TYPE_INPUT))
        histogram.record(tokens[1], variant(response_model or None, sc.TOKEN_TYPE_OUTPUT))

    def end(self) -> None:
        """Time to first chunk (streams), the duration metric, then the span's end."""
        now = time.perf_counter()
        span = self.node.span
        if self.first_chunk_at is not None:
            span.set_attribute(
                sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, self.first_chunk_at - self.started
            )
        attributes = self.profile.metric_variant(self.response_model, None)
        if self.node.exception is not None:
            attributes = {**attributes, sc.ERROR_TYPE: error_type(self.node.exception)}
        self.telemetry.operation_duration.record(now - self.started, attributes)
        span.end()


def _later(node: Node, values: dict[str, Any]) -> None:
    if node.later is None:
        node.later = dict(values)
    else:
        node.later.update(values)
