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

from typing import Any

from agentel.instrumentation.agentor.package import _instruments
from agentel.instrumentation.core.instrumentor import GuestInstrumentor, Installation

__all__ = ["AgentorInstrumentor"]


class AgentorInstrumentor(GuestInstrumentor):
    """Traces Agentor 0.1 runs as OTel spans under whatever TracerProvider is given.

    ``instrument()`` keyword arguments: ``tracer_provider``, ``meter_provider``,
    ``capture_content`` (a ``ContentCapture``, its name, or a bool; default from the
    environment), ``content_max_length``, ``capture_blobs``, and ``keep_agentor_export``
    (keep Agentor's own upload to Celesto while agentel also exports there; default from
    ``AGENTEL_KEEP_AGENTOR_EXPORT``, else off so each run is sent once).
    """

    _instruments = _instruments

    def _create_installation(self, **kwargs: Any) -> Installation:
        from agentel.instrumentation.agentor.install import Installation as FrameworkInstallation

        return FrameworkInstallation.create(**kwargs)
