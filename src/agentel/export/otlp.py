"""OTLP export, http/protobuf by default, with presets for the LLM backends.

A preset turns each backend's own environment variables into the endpoint, protocol and
headers it wants, so ``setup(otlp="langfuse")`` needs nothing else. Everything a preset does
not set is left to the OTLP exporter, which honours every ``OTEL_EXPORTER_OTLP_*`` variable.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.sdk.metrics.export import MetricExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.util.types import Attributes

from agentel import settings as s

LANGFUSE_TRACES_PATH = "/api/public/otel/v1/traces"
TRACES_PATH = "/v1/traces"
METRICS_PATH = "/v1/metrics"
MLFLOW_EXPERIMENT_HEADER = "x-mlflow-experiment-id"


@dataclass(frozen=True)
class OTLPTarget:
    """Where spans go and with which headers; ``endpoint=None`` defers to the OTel env."""

    endpoint: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    accepts_metrics: bool = True


class HashedOnceResource(Resource):
    """A Resource that computes its hash once, when it is made.

    The OTel OTLP encoder groups each batch's spans by resource in a dict, so it hashes
    the resource of every span, and ``Resource.__hash__`` serialises all its attributes to
    sorted JSON each time: about a sixth of the exporter's CPU per span. A Resource cannot
    change once made (its attributes are immutable), so the hash never needs computing
    again; equality, and so which spans share a group on the wire, is the base class's.
    """

    def __init__(self, attributes: Attributes, schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self._hash = super().__hash__()

    @classmethod
    def of(cls, resource: Resource) -> HashedOnceResource:
        """``resource``'s attributes and schema URL, hashed once."""
        return cls(resource.attributes, resource.schema_url)

    def __hash__(self) -> int:
        return self._hash


def checked_url(name: str, url: str) -> str:
    """``url`` if it starts with http:// or https://; the HTTP exporter would otherwise post
    to a URL that cannot work and fail only at the first export, far from the setting."""
    value = url.strip()
    if urlsplit(value).scheme.lower() not in ("http", "https") or "://" not in value:
        raise s.SettingError(
            f"{name}={url!r} is not an http:// or https:// URL; give the scheme too, "
            "e.g. http://localhost:4318."
        )
    return value


def traces_url(base: str) -> str:
    """A URL without a path is a base: the traces path is added, as the OTel variable
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` does; a URL with a path is used as it is."""
    base = base.strip()
    if urlsplit(base).path.strip("/"):
        return base
    return base.rstrip("/") + TRACES_PATH


def _required(env: Mapping[str, str], name: str, preset: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise s.SettingError(f"The {preset} preset needs {name}; set it to your {preset} key.")
    return value


def _with_traces_path(name: str, base: str) -> str:
    base = checked_url(name, base).rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def _phoenix(env: Mapping[str, str]) -> OTLPTarget:
    base = env.get(s.ENV_PHOENIX_COLLECTOR_ENDPOINT) or s.DEFAULT_PHOENIX_COLLECTOR_ENDPOINT
    endpoint = _with_traces_path(s.ENV_PHOENIX_COLLECTOR_ENDPOINT, base)
    headers = {}
    if api_key := env.get(s.ENV_PHOENIX_API_KEY, "").strip():
        headers["authorization"] = f"Bearer {api_key}"
    return OTLPTarget(endpoint, headers, accepts_metrics=False)


def _langfuse(env: Mapping[str, str]) -> OTLPTarget:
    public_key = _required(env, s.ENV_LANGFUSE_PUBLIC_KEY, "langfuse")
    secret_key = _required(env, s.ENV_LANGFUSE_SECRET_KEY, "langfuse")
    host = env.get(s.ENV_LANGFUSE_HOST) or s.DEFAULT_LANGFUSE_HOST
    host = checked_url(s.ENV_LANGFUSE_HOST, host).rstrip("/")
    token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
    return OTLPTarget(
        host + LANGFUSE_TRACES_PATH, {"authorization": f"Basic {token}"}, accepts_metrics=False
    )


def _datadog(env: Mapping[str, str]) -> OTLPTarget:
    api_key = _required(env, s.ENV_DD_API_KEY, "datadog")
    site = (env.get(s.ENV_DD_SITE) or s.DEFAULT_DD_SITE).strip()
    return OTLPTarget(
        f"https://otlp.{site}{TRACES_PATH}",
        {"dd-api-key": api_key, "dd-otlp-source": "llmobs"},
        accepts_metrics=False,
    )


def _mlflow(env: Mapping[str, str]) -> OTLPTarget:
    """An MLflow tracking server (3.6+) takes OTLP/HTTP at ``/v1/traces`` and files each
    trace under the experiment its header names (``0``, the default experiment, if unset)."""
    base = env.get(s.ENV_MLFLOW_TRACKING_URI) or s.DEFAULT_MLFLOW_TRACKING_URI
    endpoint = _with_traces_path(s.ENV_MLFLOW_TRACKING_URI, base)
    experiment = (env.get(s.ENV_MLFLOW_EXPERIMENT_ID) or s.DEFAULT_MLFLOW_EXPERIMENT_ID).strip()
    headers = {MLFLOW_EXPERIMENT_HEADER: experiment}
    if token := env.get(s.ENV_MLFLOW_TRACKING_TOKEN, "").strip():
        headers["authorization"] = f"Bearer {token}"
    return OTLPTarget(endpoint, headers, accepts_metrics=False)


_PRESETS = {"phoenix": _phoenix, "langfuse": _langfuse, "datadog": _datadog, "mlflow": _mlflow}

# What each preset reads, for ``agentel doctor``: (variable, required).
PRESET_VARIABLES: dict[str, tuple[tuple[str, bool], ...]] = {
    "phoenix": (
        (s.ENV_PHOENIX_COLLECTOR_ENDPOINT, False),
        (s.ENV_PHOENIX_API_KEY, False),
        (s.ENV_PHOENIX_PROJECT_NAME, False),
    ),
    "langfuse": (
        (s.ENV_LANGFUSE_PUBLIC_KEY, True),
        (s.ENV_LANGFUSE_SECRET_KEY, True),
        (s.ENV_LANGFUSE_HOST, False),
    ),
    "datadog": ((s.ENV_DD_API_KEY, True), (s.ENV_DD_SITE, False)),
    "mlflow": (
        (s.ENV_MLFLOW_TRACKING_URI, False),
        (s.ENV_MLFLOW_EXPERIMENT_ID, False),
        (s.ENV_MLFLOW_TRACKING_TOKEN, False),
    ),
}


def _standard_endpoint_variable(env: Mapping[str, str]) -> str | None:
    """The name of the standard endpoint variable in effect for traces (the traces one wins
    over the generic one, as in the OTel exporter), or None."""
    for name in (s.ENV_OTLP_TRACES_ENDPOINT, s.ENV_OTLP_ENDPOINT):
        if env.get(name, "").strip():
            return name
    return None


def _standard_headers(env: Mapping[str, str]) -> dict[str, str]:
    """The headers of ``OTEL_EXPORTER_OTLP_TRACES_HEADERS``, else of
    ``OTEL_EXPORTER_OTLP_HEADERS``, parsed as the OTel exporter parses them."""
    from opentelemetry.util.re import parse_env_headers

    for name in (s.ENV_OTLP_TRACES_HEADERS, s.ENV_OTLP_HEADERS):
        if raw := env.get(name, "").strip():
            return {k.lower(): v for k, v in parse_env_headers(raw, liberal=True).items()}
    return {}


def resolve_target(
    preset: str | None,
    protocol: str,
    *,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    protocol_source: str = s.ENV_OTLP_TRACES_PROTOCOL,
) -> OTLPTarget:
    """Where spans go: the ``endpoint`` argument, else the standard OTLP endpoint variables,
    else the preset's endpoint; headers merge the preset's, then the standard variables',
    then the ``headers`` argument (each wins over the one before, per header)."""
    env = os.environ if env is None else env
    target = OTLPTarget()
    if preset is not None:
        if protocol != "http/protobuf":
            raise s.SettingError(
                f"The {preset} preset sends OTLP over http/protobuf; {protocol_source} is "
                f"{protocol!r}. Leave it unset."
            )
        target = _PRESETS[preset](env)
    standard = _standard_endpoint_variable(env)
    if protocol == "http/protobuf" and standard is not None:
        checked_url(standard, env[standard])
    if endpoint:
        if protocol == "http/protobuf":
            checked_url("otlp_endpoint", endpoint)
        chosen: str | None = endpoint
    elif standard is not None:
        chosen = None  # the OTel exporter reads the standard variables itself
    else:
        chosen = target.endpoint
    explicit = {k.lower(): v for k, v in (headers or {}).items()}
    env_headers = _standard_headers(env) if target.headers or explicit else {}
    merged = {**target.headers, **env_headers, **explicit}
    return OTLPTarget(chosen, merged, target.accepts_metrics)


def _grpc_module(signal: str, protocol_source: str) -> Any:
    try:
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc import trace_exporter as module
        else:
            from opentelemetry.exporter.otlp.proto.grpc import metric_exporter as module
    except ImportError:
        raise s.SettingError(
            f"{protocol_source} is 'grpc' but the gRPC exporter is not installed; "
            "pip install 'agentel[grpc]', or use http/protobuf."
        ) from None
    return module


def build_span_exporter(
    protocol: str,
    target: OTLPTarget,
    timeout: float | None = None,
    protocol_source: str = s.ENV_OTLP_TRACES_PROTOCOL,
) -> SpanExporter:
    """The OTel SDK's own OTLP span exporter for ``protocol``."""
    kwargs: dict[str, Any] = {"endpoint": target.endpoint, "timeout": timeout}
    if protocol == "grpc":
        headers = tuple(target.headers.items()) or None
        return _grpc_module("traces", protocol_source).OTLPSpanExporter(headers=headers, **kwargs)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(headers=target.headers or None, **kwargs)


def build_metric_exporter(
    protocol: str,
    target: OTLPTarget,
    timeout: float | None = None,
    protocol_source: str = s.ENV_OTLP_TRACES_PROTOCOL,
) -> MetricExporter:
    """The matching metric exporter; the endpoint follows the traces one when it was set."""
    endpoint = target.endpoint
    if endpoint and endpoint.endswith(TRACES_PATH):
        endpoint = endpoint[: -len(TRACES_PATH)] + METRICS_PATH
    kwargs: dict[str, Any] = {"endpoint": endpoint, "timeout": timeout}
    if protocol == "grpc":
        headers = tuple(target.headers.items()) or None
        return _grpc_module("metrics", protocol_source).OTLPMetricExporter(
            headers=headers, **kwargs
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(headers=target.headers or None, **kwargs)


class PresetOTLPSpanExporter(SpanExporter):
    """``OTEL_TRACES_EXPORTER=agentel_otlp``: our OTLP exporter configured from env only.

    Under ``opentelemetry-instrument`` this gives the http/protobuf default, the
    ``AGENTEL_OTLP_PRESET`` presets and the ``AGENTEL_DIALECT`` dialect without code. Only
    ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` can ask it for gRPC: the generic
    ``OTEL_EXPORTER_OTLP_PROTOCOL`` is what opentelemetry-distro sets to grpc by default.
    """

    def __init__(self) -> None:
        from agentel.export.dialects import with_dialect

        env = {k: v for k, v in os.environ.items() if k != s.ENV_OTLP_PROTOCOL}
        config = s.PipelineSettings.from_env(env)
        target = resolve_target(
            config.otlp_preset,
            config.otlp_protocol,
            env=env,
            protocol_source=config.otlp_protocol_source,
        )
        exporter = build_span_exporter(
            config.otlp_protocol,
            target,
            config.batch.export_timeout,
            protocol_source=config.otlp_protocol_source,
        )
        self._inner = with_dialect(exporter, config.dialect)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export(spans)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._inner.shutdown()
