"""Drop-in Celesto tracing for Agentor users: ``setup_celesto_tracing`` and ``get_run_config``.

The names and arguments match the functions Agentor users already call; underneath, the
run is traced by agentel's instrumentation and sent through :func:`agentel.setup` with the
Celesto exporter, so the same spans can also go to any OTLP backend.

Agentor 0.0.x ran on the OpenAI Agents SDK and took no tracer object: there
``setup_celesto_tracing`` returns the pipeline handle. Agentor 0.1 runs its own engine and
takes ``tracer=``: there it returns an :class:`AgentorTracer`, which Agentor accepts and which
leaves the exporting to agentel's pipeline (batched, retried, counted).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from agentel.export.celesto import CelestoSpanExporter, api_key_from_env

if TYPE_CHECKING:
    from agents import RunConfig

    from agentel.export.pipeline import Pipeline

__all__ = ["AgentorTracer", "CelestoSpanExporter", "get_run_config", "setup_celesto_tracing"]


class _NoCollector:
    """Agentor hands every event of a run to its tracer's collector; agentel's
    instrumentation has already made the run's spans, so there is nothing to collect."""

    __slots__ = ()

    def handle(self, event: Any) -> None:
        return None


_NO_COLLECTOR = _NoCollector()


class AgentorTracer:
    """What Agentor 0.1's ``tracer=`` takes, backed by agentel's pipeline.

    ``Agentor(..., tracer=setup_celesto_tracing())`` keeps Agentor's per-run switch working
    (``tracing=False`` sends nothing for that run) while the spans come from agentel's
    instrumentation and leave through the pipeline. Every other attribute is the pipeline's
    (``force_flush()``, ``shutdown()``, ``delivery``).
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def collector(self, workflow_name: str, **kwargs: Any) -> _NoCollector:
        return _NO_COLLECTOR

    def export(self, collector: Any) -> None:
        return None  # the pipeline exports the run's spans in batches

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipeline, name)


def agentor_has_own_engine() -> bool:
    """Whether the installed Agentor is 0.1 or later (its own engine, ``tracer=``)."""
    try:
        release = version("agentor").split(".")
        return (int(release[0]), int(release[1])) >= (0, 1)
    except (PackageNotFoundError, ValueError, IndexError):
        return False


def setup_celesto_tracing(
    endpoint: str | None = None,
    token: str | None = None,
    *,
    replace_default: bool = True,
    batch_delay: float = 1.0,
    max_batch_size: int = 256,
    timeout: float | None = None,
) -> Any:
    """Send every agent run to Celesto.

    ``endpoint`` is the full ingest URL (default ``{CELESTO_BASE_URL}/traces/ingest``) and
    ``token`` the API key (default ``CELESTO_API_KEY``). ``replace_default=True`` stops the
    OpenAI Agents SDK's own export to OpenAI, as Agentor 0.0.x did; False keeps it alongside.
    ``batch_delay`` and ``timeout`` (of one upload) are in seconds. Message content
    (prompts, completions, tool arguments and results) is sent only when
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` asks for it, as for every other
    exporter.

    Returns the pipeline handle (``force_flush()``, ``shutdown()``); with Agentor 0.1 or
    later an :class:`AgentorTracer` wrapping it, which Agentor's ``tracer=`` accepts.
    """
    from agentel.export.pipeline import setup

    options = {} if timeout is None else {"timeout": timeout}
    exporter = CelestoSpanExporter(token=token or api_key_from_env(), endpoint=endpoint, **options)
    pipeline = setup(
        [exporter],
        schedule_delay=batch_delay,
        max_export_batch_size=max_batch_size,
        max_queue_size=max(2048, max_batch_size),
        keep_openai_export=not replace_default,
    )
    return AgentorTracer(pipeline) if agentor_has_own_engine() else pipeline


def get_run_config(
    group_id: str | None = None, metadata: dict[str, Any] | None = None
) -> RunConfig:
    """A ``RunConfig`` (OpenAI Agents SDK, as Agentor 0.0.x used) that groups runs
    (``group_id`` becomes the Celesto trace's group and ``gen_ai.conversation.id``) and
    attaches ``metadata``. The run allows message content; whether any is recorded is up to
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``. With Agentor 0.1, pass
    ``trace_group_id=`` and ``trace_metadata=`` to ``Agentor(...)`` instead."""
    from agents import RunConfig

    return RunConfig(trace_include_sensitive_data=True, group_id=group_id, trace_metadata=metadata)
