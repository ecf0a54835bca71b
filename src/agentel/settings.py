"""Typed settings read from arguments first, then the environment.

Every environment variable agentel reads is named here and nowhere else, so a user can find
them all in one file and every bad value fails the same way: one error (or, for the
standard OTel content switch, one warning) that names the setting and what it accepts.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger(__name__)

ENV_CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_CONTENT_MAX_LENGTH = "AGENTEL_CONTENT_MAX_LENGTH"
ENV_CAPTURE_BLOBS = "AGENTEL_CAPTURE_BLOBS"
ENV_DB = "AGENTEL_DB"
ENV_PRICING_FILE = "AGENTEL_PRICING_FILE"

DEFAULT_CONTENT_MAX_LENGTH = 64 * 1024
DEFAULT_DB = "sqlite:///agentel.db"


class SettingError(ValueError):
    """A setting has a value agentel cannot use; the message names the setting."""


class ContentCapture(enum.Enum):
    """Where message content goes, as the OTel GenAI instrumentations define it."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        return self in (ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def as_event(self) -> bool:
        return self in (ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def enabled(self) -> bool:
        return self is not ContentCapture.NO_CONTENT


_CAPTURE_ALIASES = {"TRUE": "SPAN_ONLY", "1": "SPAN_ONLY", "FALSE": "NO_CONTENT", "0": "NO_CONTENT"}
_TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE_WORDS = {"0", "false", "no", "off", ""}


def parse_content_capture(raw: str | bool | ContentCapture | None) -> ContentCapture:
    """Read the content switch leniently: an unknown value warns and keeps content off.

    The variable is shared with other OTel GenAI instrumentations, so a value meant for one
    of them must never stop the user's app; it only earns a warning (once per value).
    """
    if isinstance(raw, ContentCapture):
        return raw
    if raw is None:
        return ContentCapture.NO_CONTENT
    if isinstance(raw, bool):
        return ContentCapture.SPAN_ONLY if raw else ContentCapture.NO_CONTENT
    warning = content_capture_warning(raw)
    if warning is not None:
        if raw not in _warned_capture_values:
            _warned_capture_values.add(raw)
            _log.warning("%s", warning)
        return ContentCapture.NO_CONTENT
    word = raw.strip().upper()
    return ContentCapture(_CAPTURE_ALIASES.get(word, word) or ContentCapture.NO_CONTENT.value)


_warned_capture_values: set[str] = set()


def content_capture_warning(raw: str | None) -> str | None:
    """The warning a content switch value earns (naming the accepted values), or None."""
    word = (raw or "").strip().upper()
    word = _CAPTURE_ALIASES.get(word, word)
    if not word or word in ContentCapture.__members__:
        return None
    accepted = ", ".join(m.value for m in ContentCapture)
    return (
        f"{ENV_CAPTURE_CONTENT}={raw!r} is not understood; content capture stays off. "
        f"Accepted values: {accepted} (case-insensitive), or true/1 and false/0."
    )


def parse_bool(name: str, raw: str | bool) -> bool:
    """A yes/no setting; anything else is an error naming the setting."""
    if isinstance(raw, bool):
        return raw
    word = raw.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise SettingError(f"{name}={raw!r} is not a yes/no value; use one of true, false, 1, 0.")


def parse_positive_int(name: str, raw: str | int) -> int:
    """A whole number above zero; anything else is an error naming the setting."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise SettingError(f"{name}={raw!r} is not a whole number; use a number above 0.") from None
    if value <= 0:
        raise SettingError(f"{name}={raw!r} must be above 0.")
    return value


@dataclass(frozen=True)
class ContentSettings:
    """What the instrumentors may record of message content, and how much of it."""

    capture: ContentCapture = ContentCapture.NO_CONTENT
    max_length: int = DEFAULT_CONTENT_MAX_LENGTH
    capture_blobs: bool = False

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        capture: str | bool | ContentCapture | None = None,
        max_length: int | None = None,
        capture_blobs: bool | None = None,
    ) -> ContentSettings:
        """Arguments win over the environment; the environment over the defaults."""
        env = os.environ if env is None else env
        if capture is None:
            capture = env.get(ENV_CAPTURE_CONTENT)
        if max_length is None:
            raw_len = env.get(ENV_CONTENT_MAX_LENGTH)
            max_length = (
                DEFAULT_CONTENT_MAX_LENGTH
                if raw_len is None
                else parse_positive_int(ENV_CONTENT_MAX_LENGTH, raw_len)
            )
        else:
            max_length = parse_positive_int("content_max_length", max_length)
        if capture_blobs is None:
            capture_blobs = parse_bool(ENV_CAPTURE_BLOBS, env.get(ENV_CAPTURE_BLOBS, ""))
        return cls(parse_content_capture(capture), max_length, capture_blobs)


# --- export pipeline ----------------------------------------------------------------------
# Arguments of ``agentel.setup()`` win over these variables; the OTel ones keep the meaning
# and units (milliseconds) the OTel specification gives them.
ENV_EXPORTERS = "AGENTEL_EXPORTERS"
ENV_OTLP_PRESET = "AGENTEL_OTLP_PRESET"
ENV_DIALECT = "AGENTEL_DIALECT"
ENV_SAMPLE_RATIO = "AGENTEL_SAMPLE_RATIO"
ENV_METRICS = "AGENTEL_METRICS"
ENV_EXIT_FLUSH_TIMEOUT = "AGENTEL_EXIT_FLUSH_TIMEOUT"
ENV_SERVICE_NAME = "OTEL_SERVICE_NAME"
ENV_BSP_SCHEDULE_DELAY = "OTEL_BSP_SCHEDULE_DELAY"
ENV_BSP_MAX_QUEUE_SIZE = "OTEL_BSP_MAX_QUEUE_SIZE"
ENV_BSP_MAX_EXPORT_BATCH_SIZE = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
ENV_BSP_EXPORT_TIMEOUT = "OTEL_BSP_EXPORT_TIMEOUT"
ENV_OTLP_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
ENV_OTLP_TRACES_PROTOCOL = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
ENV_OTEL_TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"

# Each backend's own variables, read by the OTLP presets.
ENV_PHOENIX_COLLECTOR_ENDPOINT = "PHOENIX_COLLECTOR_ENDPOINT"
ENV_PHOENIX_API_KEY = "PHOENIX_API_KEY"
ENV_PHOENIX_PROJECT_NAME = "PHOENIX_PROJECT_NAME"
ENV_LANGFUSE_PUBLIC_KEY = "LANGFUSE_PUBLIC_KEY"
ENV_LANGFUSE_SECRET_KEY = "LANGFUSE_SECRET_KEY"
ENV_LANGFUSE_HOST = "LANGFUSE_HOST"
ENV_DD_API_KEY = "DD_API_KEY"
ENV_DD_SITE = "DD_SITE"
ENV_MLFLOW_TRACKING_URI = "MLFLOW_TRACKING_URI"
ENV_MLFLOW_EXPERIMENT_ID = "MLFLOW_EXPERIMENT_ID"
ENV_MLFLOW_TRACKING_TOKEN = "MLFLOW_TRACKING_TOKEN"
# The standard OTLP variables; they win over a preset's endpoint and headers.
ENV_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
ENV_OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
ENV_OTLP_HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
ENV_OTLP_TRACES_HEADERS = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
ENV_OTLP_METRICS_ENDPOINT = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
ENV_OTEL_METRICS_EXPORTER = "OTEL_METRICS_EXPORTER"
ENV_CELESTO_API_KEY = "CELESTO_API_KEY"
ENV_CELESTO_BASE_URL = "CELESTO_BASE_URL"
ENV_CELESTO_DISABLE_AUTO_TRACING = "CELESTO_DISABLE_AUTO_TRACING"
# Keep Agentor's own upload to Celesto while agentel also sends there (off: each run once).
ENV_KEEP_AGENTOR_EXPORT = "AGENTEL_KEEP_AGENTOR_EXPORT"

DEFAULT_SCHEDULE_DELAY = 5.0
DEFAULT_MAX_QUEUE_SIZE = 2048
DEFAULT_MAX_EXPORT_BATCH_SIZE = 512
DEFAULT_EXIT_FLUSH_TIMEOUT = 5.0
DEFAULT_OTLP_PROTOCOL = "http/protobuf"
DEFAULT_CELESTO_BASE_URL = "https://api.celesto.ai/v1"
DEFAULT_PHOENIX_COLLECTOR_ENDPOINT = "http://localhost:6006"
DEFAULT_LANGFUSE_HOST = "https://cloud.langfuse.com"
DEFAULT_DD_SITE = "datadoghq.com"
DEFAULT_MLFLOW_TRACKING_URI = "http://localhost:5000"
DEFAULT_MLFLOW_EXPERIMENT_ID = "0"

OTLP_PROTOCOLS = ("http/protobuf", "grpc")
OTLP_PRESETS = ("phoenix", "langfuse", "datadog", "mlflow")
DIALECTS = ("genai", "openinference", "langfuse")
# The dialect each preset's backend renders best; any other backend gets plain GenAI.
PRESET_DIALECTS = {"phoenix": "openinference", "mlflow": "openinference", "langfuse": "langfuse"}
# ``store`` writes to the store ``AGENTEL_DB`` names; ``sqlite``/``postgres`` are aliases
# that also check the store is of that kind.
STORE_EXPORTER_NAMES = ("store", "sqlite", "postgres")
EXPORTER_NAMES = ("otlp", "console", "celesto", "memory", *STORE_EXPORTER_NAMES)


def parse_choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    """One word out of a fixed list (case-insensitive); anything else names the list."""
    word = raw.strip().lower()
    if word not in choices:
        raise SettingError(f"{name}={raw!r} is not understood; use one of {', '.join(choices)}.")
    return word


def parse_seconds(name: str, raw: str | float, *, from_millis: bool = False) -> float:
    """A duration of zero or more; the OTel variables give it in milliseconds."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        unit = "milliseconds" if from_millis else "seconds"
        raise SettingError(f"{name}={raw!r} is not a number; give a duration in {unit}.") from None
    if value < 0 or value != value:
        raise SettingError(f"{name}={raw!r} must be 0 or more.")
    return value / 1000 if from_millis else value


def parse_ratio(name: str, raw: str | float) -> float:
    """A sampling ratio between 0 and 1."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SettingError(f"{name}={raw!r} is not a number; use a ratio from 0 to 1.") from None
    if not 0.0 <= value <= 1.0:
        raise SettingError(f"{name}={raw!r} must be between 0 and 1.")
    return value


def _pick(argument: Any, arg_name: str, env: Mapping[str, str], env_name: str) -> tuple[Any, str]:
    """The argument if given, else the variable if set: (value, name to blame) or (None, '')."""
    if argument is not None:
        return argument, arg_name
    raw = env.get(env_name)
    if raw is None or not raw.strip():
        return None, ""
    return raw, env_name


@dataclass(frozen=True)
class BatchSettings:
    """The BatchSpanProcessor knobs, in seconds and counts."""

    schedule_delay: float = DEFAULT_SCHEDULE_DELAY
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE
    max_export_batch_size: int = DEFAULT_MAX_EXPORT_BATCH_SIZE
    # None leaves each exporter's own timeout (OTEL_EXPORTER_OTLP_TIMEOUT for OTLP) in force.
    export_timeout: float | None = None

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        schedule_delay: float | None = None,
        max_queue_size: int | None = None,
        max_export_batch_size: int | None = None,
        export_timeout: float | None = None,
    ) -> BatchSettings:
        """Arguments (seconds) win over ``OTEL_BSP_*`` (milliseconds) over the defaults."""
        env = os.environ if env is None else env

        def seconds(
            arg: float | None, arg_name: str, env_name: str, default: float | None
        ) -> float | None:
            value, name = _pick(arg, arg_name, env, env_name)
            if value is None:
                return default
            return parse_seconds(name, value, from_millis=name == env_name)

        def count(arg: int | None, arg_name: str, env_name: str, default: int) -> int:
            value, name = _pick(arg, arg_name, env, env_name)
            return default if value is None else parse_positive_int(name, value)

        settings = cls(
            schedule_delay=seconds(
                schedule_delay, "schedule_delay", ENV_BSP_SCHEDULE_DELAY, DEFAULT_SCHEDULE_DELAY
            ),
            max_queue_size=count(
                max_queue_size, "max_queue_size", ENV_BSP_MAX_QUEUE_SIZE, DEFAULT_MAX_QUEUE_SIZE
            ),
            max_export_batch_size=count(
                max_export_batch_size,
                "max_export_batch_size",
                ENV_BSP_MAX_EXPORT_BATCH_SIZE,
                DEFAULT_MAX_EXPORT_BATCH_SIZE,
            ),
            export_timeout=seconds(export_timeout, "export_timeout", ENV_BSP_EXPORT_TIMEOUT, None),
        )
        if settings.max_export_batch_size > settings.max_queue_size:
            raise SettingError(
                f"max_export_batch_size ({ENV_BSP_MAX_EXPORT_BATCH_SIZE}) = "
                f"{settings.max_export_batch_size} must not exceed max_queue_size "
                f"({ENV_BSP_MAX_QUEUE_SIZE}) = {settings.max_queue_size}."
            )
        return settings


def celesto_auto_enabled(env: Mapping[str, str] | None = None) -> bool:
    """``CELESTO_API_KEY`` turns Celesto export on unless ``CELESTO_DISABLE_AUTO_TRACING``,
    or unless ``OTEL_TRACES_EXPORTER`` already names ``agentel_celesto`` (no double send)."""
    env = os.environ if env is None else env
    if not env.get(ENV_CELESTO_API_KEY, "").strip():
        return False
    otel_exporters = env.get(ENV_OTEL_TRACES_EXPORTER, "").split(",")
    if "agentel_celesto" in (name.strip() for name in otel_exporters):
        return False
    disabled = env.get(ENV_CELESTO_DISABLE_AUTO_TRACING, "")
    return not parse_bool(ENV_CELESTO_DISABLE_AUTO_TRACING, disabled)


def parse_exporter_names(name: str, raw: str | Sequence[str]) -> tuple[str, ...]:
    """A comma-separated list (or a sequence) of exporter names, each checked."""
    words = raw.split(",") if isinstance(raw, str) else list(raw)
    names: list[str] = []
    for word in words:
        if not word.strip():
            continue
        exporter = word.strip().lower()
        if exporter not in EXPORTER_NAMES:
            raise SettingError(
                f"{name}: unknown exporter {word.strip()!r}; "
                f"use one or more of {', '.join(EXPORTER_NAMES)}."
            )
        if exporter not in names:
            names.append(exporter)
    stores = [n for n in names if n in STORE_EXPORTER_NAMES]
    if len(stores) > 1:
        raise SettingError(
            f"{name}: {' and '.join(stores)} name the same trace store; name it once "
            f"(store writes wherever {ENV_DB} points)."
        )
    return tuple(names)


@dataclass(frozen=True)
class PipelineSettings:
    """Everything ``agentel.setup()`` decides from its arguments and the environment."""

    exporters: tuple[str, ...] = ()
    otlp_preset: str | None = None
    otlp_protocol: str = DEFAULT_OTLP_PROTOCOL
    # The argument or variable the protocol came from, for error messages.
    otlp_protocol_source: str = ENV_OTLP_TRACES_PROTOCOL
    dialect: str = "genai"
    sample_ratio: float | None = None
    metrics: bool = True
    exit_flush_timeout: float = DEFAULT_EXIT_FLUSH_TIMEOUT
    service_name: str | None = None
    batch: BatchSettings = BatchSettings()
    content: ContentSettings = ContentSettings()

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        exporters: str | Sequence[str] | None = None,
        otlp: str | None = None,
        otlp_protocol: str | None = None,
        dialect: str | None = None,
        sample_ratio: float | None = None,
        metrics: bool | None = None,
        exit_flush_timeout: float | None = None,
        service_name: str | None = None,
        batch: Mapping[str, float | int | None] | None = None,
        capture_content: str | bool | ContentCapture | None = None,
        content_max_length: int | None = None,
    ) -> PipelineSettings:
        """Arguments win over the environment; the environment over the defaults.

        ``CELESTO_API_KEY`` adds the ``celesto`` exporter unless
        ``CELESTO_DISABLE_AUTO_TRACING`` is true.
        """
        env = os.environ if env is None else env
        value, name = _pick(exporters, "exporters", env, ENV_EXPORTERS)
        names = () if value is None else parse_exporter_names(name, value)
        if celesto_auto_enabled(env) and "celesto" not in names:
            names = (*names, "celesto")

        value, name = _pick(otlp, "otlp", env, ENV_OTLP_PRESET)
        preset = None if value is None else parse_choice(name, value, OTLP_PRESETS)

        value, name = _pick(otlp_protocol, "otlp_protocol", env, ENV_OTLP_TRACES_PROTOCOL)
        if value is None:
            value, name = _pick(None, "", env, ENV_OTLP_PROTOCOL)
        protocol = (
            DEFAULT_OTLP_PROTOCOL if value is None else parse_choice(name, value, OTLP_PROTOCOLS)
        )
        protocol_source = name or ENV_OTLP_TRACES_PROTOCOL
        if preset is not None and otlp_protocol is None:
            # Every preset backend takes http/protobuf only; a protocol from the environment
            # (opentelemetry-distro sets grpc by default) is meant for other exporters.
            protocol = DEFAULT_OTLP_PROTOCOL

        value, name = _pick(dialect, "dialect", env, ENV_DIALECT)
        default_dialect = PRESET_DIALECTS.get(preset or "", "genai")
        chosen_dialect = default_dialect if value is None else parse_choice(name, value, DIALECTS)

        value, name = _pick(sample_ratio, "sample_ratio", env, ENV_SAMPLE_RATIO)
        ratio = None if value is None else parse_ratio(name, value)

        value, name = _pick(metrics, "metrics", env, ENV_METRICS)
        metrics_on = True if value is None else parse_bool(name, value)

        value, name = _pick(exit_flush_timeout, "exit_flush_timeout", env, ENV_EXIT_FLUSH_TIMEOUT)
        exit_timeout = DEFAULT_EXIT_FLUSH_TIMEOUT if value is None else parse_seconds(name, value)

        return cls(
            exporters=names,
            otlp_preset=preset,
            otlp_protocol=protocol,
            otlp_protocol_source=protocol_source,
            dialect=chosen_dialect,
            sample_ratio=ratio,
            metrics=metrics_on,
            exit_flush_timeout=exit_timeout,
            service_name=service_name or env.get(ENV_SERVICE_NAME) or None,
            batch=BatchSettings.from_env(env, **(batch or {})),  # type: ignore[arg-type]
            content=ContentSettings.from_env(
                env, capture=capture_content, max_length=content_max_length
            ),
        )
