"""The ``opentelemetry_post_instrument`` hook: env-only export under ``opentelemetry-instrument``.

After the OTel configurator and the instrumentors have run, this joins the provider they
set up and adds what agentel's own variables ask for: Celesto when ``CELESTO_API_KEY`` is set
(unless ``CELESTO_DISABLE_AUTO_TRACING``), and the exporters of ``AGENTEL_EXPORTERS`` or
``AGENTEL_OTLP_PRESET``. Nothing set, nothing done. A bad value is logged, never raised:
it must not stop the user's app from starting.

GenAI metrics follow ``AGENTEL_METRICS``. Left unset, they stay off when the only metrics
destination is the one opentelemetry-distro turns on by itself (OTLP to localhost:4317, with
no endpoint variable set): a collector nobody named would otherwise be retried at every exit.

Exit is bounded here as with ``setup()``: the SDK's providers would flush at exit with each
exporter retrying for up to its own timeout (10 s for OTLP, one after the other), so their
final shutdown is run for at most ``AGENTEL_EXIT_FLUSH_TIMEOUT`` seconds in all.
"""

from __future__ import annotations

import atexit
import logging
import os
import time
from typing import Any

from agentel import settings as s

_log = logging.getLogger(__name__)


def post_instrument() -> None:
    try:
        _metrics_only_where_asked()
    except Exception as error:  # never stop the app from starting
        _log.warning("agentel: could not apply %s: %s", s.ENV_METRICS, error)
    _export_from_env()
    _bound_exit()  # registered last, so it runs first at exit


def _export_from_env() -> None:
    wanted = s.celesto_auto_enabled() or bool(os.environ.get(s.ENV_EXPORTERS, "").strip())
    if os.environ.get(s.ENV_OTLP_PRESET, "").strip() and not _agentel_otlp_configured():
        wanted = True  # else the configurator's agentel_otlp exporter already serves the preset
    if not wanted:
        return
    from agentel.export.pipeline import current, setup

    if current() is not None:
        return
    try:
        setup(instrument=False, _auto=True)
    except Exception as error:
        _log.warning("agentel: export from the environment is off: %s", error)


def _agentel_otlp_configured() -> bool:
    names = os.environ.get(s.ENV_OTEL_TRACES_EXPORTER, "").split(",")
    return "agentel_otlp" in (name.strip() for name in names)


def _metrics_only_where_asked() -> None:
    raw = os.environ.get(s.ENV_METRICS, "").strip()
    wanted = s.parse_bool(s.ENV_METRICS, raw) if raw else not _metrics_go_to_the_distro_default()
    if wanted:
        return
    from opentelemetry.metrics import NoOpMeterProvider

    import agentel

    agentel.uninstrument()
    agentel.instrument(meter_provider=NoOpMeterProvider())
    if not raw:
        _log.info(
            "agentel: GenAI metrics are off: no metrics endpoint is set, only the default "
            "OTLP localhost:4317. Set %s or %s, or %s=true, to send them.",
            s.ENV_OTLP_METRICS_ENDPOINT,
            s.ENV_OTLP_ENDPOINT,
            s.ENV_METRICS,
        )


def _metrics_go_to_the_distro_default() -> bool:
    """Whether the configurator's metrics exporter is OTLP with no endpoint named."""
    exporters = {n.strip() for n in os.environ.get(s.ENV_OTEL_METRICS_EXPORTER, "").split(",")}
    if exporters != {"otlp"}:
        return False
    endpoints = (s.ENV_OTLP_METRICS_ENDPOINT, s.ENV_OTLP_ENDPOINT)
    return not any(os.environ.get(name, "").strip() for name in endpoints)


def _bound_exit() -> None:
    """Take the SDK providers' exit shutdown over, to run it within the exit timeout."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    try:
        raw = os.environ.get(s.ENV_EXIT_FLUSH_TIMEOUT, "").strip()
        timeout = s.parse_seconds(s.ENV_EXIT_FLUSH_TIMEOUT, raw) if raw else None
    except s.SettingError as error:
        _log.warning("agentel: %s", error)
        timeout = None
    providers = [
        provider
        for provider, kind in (
            (trace.get_tracer_provider(), TracerProvider),
            (metrics.get_meter_provider(), MeterProvider),
        )
        if isinstance(provider, kind)
    ]
    for provider in providers:
        # The SDK registers ``shutdown`` at exit; ours replaces it, bounded.
        if (handler := getattr(provider, "_atexit_handler", None)) is not None:
            atexit.unregister(handler)
    atexit.register(_shutdown_within, providers, timeout)


def _shutdown_within(providers: list[Any], timeout: float | None) -> None:
    from agentel.export.delivery import run_bounded
    from agentel.export.pipeline import current

    pipeline = current()
    if timeout is None:
        timeout = pipeline._exit_flush_timeout if pipeline else s.DEFAULT_EXIT_FLUSH_TIMEOUT
    deadline = time.monotonic() + timeout
    if pipeline is not None:  # agentel's own exporters first: they report their losses
        pipeline._at_exit()
    left = max(deadline - time.monotonic(), 0.0)
    run_bounded(lambda: [provider.shutdown() for provider in providers], left, "exit")
