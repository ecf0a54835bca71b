"""agentel: OpenTelemetry traces for Python AI agents.

The public surface is small on purpose and cheap to import: the heavy parts (the OTel SDK,
the frameworks being instrumented, the database drivers) load only when a function here that
needs them is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentel.version import __version__

if TYPE_CHECKING:
    from agentel.export.delivery import DeliveryStats
    from agentel.export.pipeline import Pipeline

__all__ = [
    "__version__",
    "delivery",
    "flush",
    "instrument",
    "setup",
    "shutdown",
    "uninstrument",
]


def instrument(**kwargs: Any) -> list[str]:
    """Instrument every supported framework that is installed; return the names done.

    Keyword arguments (``tracer_provider``, ``meter_provider``, ``capture_content``, ...)
    go to each framework's instrumentor.
    """
    from agentel.instrumentation import instrument_installed

    return instrument_installed(**kwargs)


def uninstrument() -> None:
    """Undo :func:`instrument` for every framework it instrumented."""
    from agentel.instrumentation import uninstrument_all

    uninstrument_all()


def setup(*args: Any, **kwargs: Any) -> Pipeline:
    """Build or join the tracing pipeline and instrument every installed framework."""
    from agentel.export.pipeline import setup as _setup

    return _setup(*args, **kwargs)


def flush(timeout_millis: int = 30_000) -> bool:
    """Send every finished span now; for scripts and notebooks that cannot wait."""
    from agentel.export.pipeline import flush as _flush

    return _flush(timeout_millis)


def delivery() -> dict[str, DeliveryStats]:
    """Per exporter: spans produced, exported, spooled, failed, dropped and abandoned.

    The counts always add up (``produced`` = the five outcomes + ``pending``); empty before
    :func:`setup`.
    """
    from agentel.export.pipeline import delivery as _delivery

    return _delivery()


def shutdown() -> None:
    """Flush and close the pipeline that :func:`setup` built."""
    from agentel.export.pipeline import shutdown as _shutdown

    _shutdown()
