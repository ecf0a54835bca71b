"""OpenTelemetry instrumentation for Agentor 0.1 (``agentor``, its own engine).

Usage::

    from agentel.instrumentation.agentor import AgentorInstrumentor

    AgentorInstrumentor().instrument(tracer_provider=provider)

Each run (``run``, ``arun``, ``stream_chat``, ``resume``, ``fork``: all go through
``AgentLoop.astream``) is an ``invoke_agent`` span, each model call a ``chat`` span and each
tool call an ``execute_tool`` span, following the OpenTelemetry GenAI semantic conventions. A
run Agentor is told not to trace (``tracing=False``) makes no spans. Message content is
recorded only when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (or
``capture_content=``) asks for it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from agentel.instrumentation.agentor.package import _instruments

__all__ = ["AgentorInstrumentor"]


class AgentorInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces Agentor 0.1 runs as OTel spans under whatever TracerProvider is given.

    ``instrument()`` keyword arguments: ``tracer_provider``, ``meter_provider``,
    ``capture_content`` (a ``ContentCapture``, its name, or a bool; default from the
    environment), ``content_max_length``, ``capture_blobs``, and ``keep_agentor_export``
    (keep Agentor's own upload to Celesto while agentel also exports there; default from
    ``AGENTEL_KEEP_AGENTOR_EXPORT``, else off so each run is sent once).
    """

    # BaseInstrumentor is a singleton whose __init__ runs on every construction, so the
    # installation lives in a class-level default rather than being reset in __init__.
    _installation: Any = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        from agentel.instrumentation.agentor.install import Installation

        self._installation = Installation.create(**kwargs)
        self._installation.install()

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._installation is not None:
            self._installation.uninstall()
            self._installation = None
