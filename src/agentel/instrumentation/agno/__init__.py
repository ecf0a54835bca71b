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

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from agentel.instrumentation.agno.package import _instruments

__all__ = ["AgnoInstrumentor"]


class AgnoInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces Agno runs as OTel spans under whatever TracerProvider is given.

    ``instrument()`` keyword arguments: ``tracer_provider``, ``meter_provider``,
    ``capture_content`` (a ``ContentCapture``, its name, or a bool; default from the
    environment), ``content_max_length`` and ``capture_blobs``.
    """

    # BaseInstrumentor is a singleton whose __init__ runs on every construction, so the
    # installation lives in a class-level default rather than being reset in __init__.
    _installation: Any = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        from agentel.instrumentation.agno.install import Installation

        self._installation = Installation.create(**kwargs)
        self._installation.install()

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._installation is not None:
            self._installation.uninstall()
            self._installation = None
