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

from opentelemetry.sdk.metrics.export import MetricExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentel import settings as s

LANGFUSE_TRACES_PATH = "/api/public/otel/v1/traces"
TRACES_PATH = "/v1/traces"
METRICS_PATH = "/v1/metrics"


@dataclass(frozen=True)
class OTLPTarget:
    """Where spans go and with which headers; ``endpoint=None`` defers to the OTel env."""

    endpoint: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    accepts_metrics: bool = True


def _required(env: Mapping[str, str], name: str, preset: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise s.SettingError(f"The {preset} preset needs {name}; set it to your {preset} key.")
    return value


def _phoenix(env: Mapping[str, str]) -> OTLPTarget:
    base = env.get(s.ENV_PHOENIX_COLLECTOR_ENDPOINT) or s.DEFAULT_PHOENIX_COLLECTOR_ENDPOINT
    base = base.rstrip("/")
    endpoint = base if base.endswith(TRACES_PATH) else base + TRACES_PATH
    headers = {}
    if api_key := env.get(s.ENV_PHOENIX_API_KEY, "").strip():
        headers["authorization"] = f"Bearer {api_key}"
    return OTLPTarget(endpoint, headers, accepts_metrics=False)


def _langfuse(env: Mapping[str, str]) -> OTLPTarget:
    public_key = _required(env, s.ENV_LANGFUSE_PUBLIC_KEY, "langfuse")
    secret_key = _required(env, s.ENV_LANGFUSE_SECRET_KEY, "langfuse")
    host = (env.get(s.ENV_LANGFUSE_HOST) or s.DEFAULT_LANGFUSE_HOST).rstrip("/")
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


_PRESETS = {"phoenix": _phoenix, "langfuse": _langfuse, "datadog": _datadog}


def resolve_target(
    preset: str | None,
    protocol: str,
    *,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> OTLPTarget:
    """The preset's target, then the explicit ``endpoint`` and ``headers`` on top of it."""
    env = os.environ if env is None else env
    target = OTLPTarget()
    if preset is not None:
        if protocol != "http/protobuf":
            raise s.SettingError(
                f"The {preset} preset sends OTLP over http/protobuf; otlp_protocol "
                f"({s.ENV_OTLP_TRACES_PROTOCOL}) is {protocol!r}. Leave it unset."
            )
        target = _PRESETS[preset](env)
    merged = {**target.headers, **{k.lower(): v for k, v in (headers or {}).items()}}
    return OTLPTarget(endpoint or target.endpoint, merged, target.accepts_metrics)


def _grpc_module(signal: str) -> Any:
    try:
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc import trace_exporter as module
        else:
            from opentelemetry.exporter.otlp.proto.grpc import metric_exporter as module
    except ImportError:
        raise s.SettingError(
            f"otlp_protocol ({s.ENV_OTLP_TRACES_PROTOCOL}) is 'grpc' but the gRPC exporter is "
            "not installed; pip install 'agentel[grpc]', or use http/protobuf."
        ) from None
    return module


def build_span_exporter(
    protocol: str, target: OTLPTarget, timeout: float | None = None
) -> SpanExporter:
    """The OTel SDK's own OTLP span exporter for ``protocol``."""
    kwargs: dict[str, Any] = {"endpoint": target.endpoint, "timeout": timeout}
    if protocol == "grpc":
        headers = tuple(target.headers.items()) or None
        return _grpc_module("traces").OTLPSpanExporter(headers=headers, **kwargs)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(headers=target.headers or None, **kwargs)


def build_metric_exporter(
    protocol: str, target: OTLPTarget, timeout: float | None = None
) -> MetricExporter:
    """The matching metric exporter; the endpoint follows the traces one when it was set."""
    endpoint = target.endpoint
    if endpoint and endpoint.endswith(TRACES_PATH):
        endpoint = endpoint[: -len(TRACES_PATH)] + METRICS_PATH
    kwargs: dict[str, Any] = {"endpoint": endpoint, "timeout": timeout}
    if protocol == "grpc":
        headers = tuple(target.headers.items()) or None
        return _grpc_module("metrics").OTLPMetricExporter(headers=headers, **kwargs)
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
        from agentel.export.openinference import with_dialect

        env = {k: v for k, v in os.environ.items() if k != s.ENV_OTLP_PROTOCOL}
        config = s.PipelineSettings.from_env(env)
        target = resolve_target(config.otlp_preset, config.otlp_protocol)
        exporter = build_span_exporter(config.otlp_protocol, target, config.batch.export_timeout)
        self._inner = with_dialect(exporter, config.dialect)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export(spans)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._inner.shutdown()
