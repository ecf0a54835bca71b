"""Drop-in Celesto tracing for Agentor users: ``setup_celesto_tracing`` and ``get_run_config``.

The names and arguments match the functions Agentor users already call; underneath, the
run is traced by agentel's instrumentation and sent through :func:`agentel.setup` with the
Celesto exporter, so the same spans can also go to any OTLP backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentel.export.celesto import CelestoSpanExporter, api_key_from_env

if TYPE_CHECKING:
    from agents import RunConfig

    from agentel.export.pipeline import Pipeline

__all__ = ["CelestoSpanExporter", "get_run_config", "setup_celesto_tracing"]


def setup_celesto_tracing(
    endpoint: str | None = None,
    token: str | None = None,
    *,
    replace_default: bool = True,
    batch_delay: float = 1.0,
    max_batch_size: int = 256,
) -> Pipeline:
    """Send every agent run to Celesto.

    ``endpoint`` is the full ingest URL (default ``{CELESTO_BASE_URL}/traces/ingest``) and
    ``token`` the API key (default ``CELESTO_API_KEY``). ``replace_default=True`` stops the
    SDK's own export to OpenAI, as Agentor did; False keeps it alongside. ``batch_delay`` is
    in seconds. Message content (prompts, completions, tool arguments and results) is sent
    only when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` asks for it, as for
    every other exporter. Returns the pipeline handle (``force_flush()``, ``shutdown()``).
    """
    from agentel.export.pipeline import setup

    exporter = CelestoSpanExporter(token=token or api_key_from_env(), endpoint=endpoint)
    return setup(
        [exporter],
        schedule_delay=batch_delay,
        max_export_batch_size=max_batch_size,
        max_queue_size=max(2048, max_batch_size),
        keep_openai_export=not replace_default,
    )


def get_run_config(
    group_id: str | None = None, metadata: dict[str, Any] | None = None
) -> RunConfig:
    """A ``RunConfig`` that groups runs (``group_id`` becomes the Celesto trace's group and
    ``gen_ai.conversation.id``) and attaches ``metadata``. The run allows message content;
    whether any is recorded is up to ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``."""
    from agents import RunConfig

    return RunConfig(trace_include_sensitive_data=True, group_id=group_id, trace_metadata=metadata)
