"""The ``opentelemetry_post_instrument`` hook: env-only export under ``opentelemetry-instrument``.

After the OTel configurator and the instrumentors have run, this joins the provider they
set up and adds what agentel's own variables ask for: Celesto when ``CELESTO_API_KEY`` is set
(unless ``CELESTO_DISABLE_AUTO_TRACING``), and the exporters of ``AGENTEL_EXPORTERS`` or
``AGENTEL_OTLP_PRESET``. Nothing set, nothing done. A bad value is logged, never raised:
it must not stop the user's app from starting.
"""

from __future__ import annotations

import logging
import os

from agentel import settings as s

_log = logging.getLogger(__name__)


def post_instrument() -> None:
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
