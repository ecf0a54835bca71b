"""OpenTelemetry instrumentation for the OpenAI Agents SDK (``openai-agents``).

Usage::

    from agentel.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)

Spans follow the OpenTelemetry GenAI semantic conventions: a workflow span per SDK trace,
``invoke_agent`` per agent segment, ``chat`` per model call, ``execute_tool`` per tool call or
handoff and ``apply_guardrail`` per guardrail check. Message content is recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (or ``capture_content=``) asks for it.
"""

from __future__ import annotations

from typing import Any

from agentel.instrumentation.core.instrumentor import GuestInstrumentor, Installation
from agentel.instrumentation.openai_agents.package import _instruments

__all__ = ["OpenAIAgentsInstrumentor"]


class OpenAIAgentsInstrumentor(GuestInstrumentor):
    """Traces OpenAI Agents SDK runs as OTel spans under whatever TracerProvider is given.

    ``instrument()`` keyword arguments: ``tracer_provider``, ``meter_provider``,
    ``capture_content`` (a ``ContentCapture``, its name, or a bool; default from the
    environment), ``content_max_length``, ``capture_blobs``, and ``keep_openai_export``
    (keep the SDK's own upload to OpenAI's trace backend; off by default so spans are not
    exported twice and runs without an OpenAI key do not log export errors).
    """

    _instruments = _instruments

    def _create_installation(self, **kwargs: Any) -> Installation:
        from agentel.instrumentation.openai_agents.install import (
            Installation as FrameworkInstallation,
        )

        return FrameworkInstallation.create(**kwargs)
