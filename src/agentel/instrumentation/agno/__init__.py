"""OpenTelemetry instrumentation for Agno (``agno``): agents, teams, workflows, models, tools.

Usage::

    from agentel.instrumentation.agno import AgnoInstrumentor

    AgnoInstrumentor().instrument(tracer_provider=provider)

Spans follow the OpenTelemetry GenAI semantic conventions: ``invoke_workflow`` per workflow
run with a span per step, ``invoke_agent`` per agent or team run (a team's members nest under
the delegation tool call that ran them), ``chat`` per model request and ``execute_tool`` per
tool call. Message content is recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (or ``capture_content=``) asks for it.
"""

from __future__ import annotations

from typing import Any

from agentel.instrumentation.agno.package import _instruments
from agentel.instrumentation.core.instrumentor import GuestInstrumentor, Installation

__all__ = ["AgnoInstrumentor"]


class AgnoInstrumentor(GuestInstrumentor):
    """Traces Agno runs as OTel spans under whatever TracerProvider is given.

    ``instrument()`` keyword arguments: ``tracer_provider``, ``meter_provider``,
    ``capture_content`` (a ``ContentCapture``, its name, or a bool; default from the
    environment), ``content_max_length`` and ``capture_blobs``.
    """

    _instruments = _instruments

    def _create_installation(self, **kwargs: Any) -> Installation:
        from agentel.instrumentation.agno.install import Installation as AgnoInstallation

        return AgnoInstallation.create(**kwargs)
