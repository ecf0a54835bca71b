"""``agentel.setup()``: build or join the tracing pipeline, then instrument.

If an SDK TracerProvider is already global (``opentelemetry-instrument``, Logfire, the
user's own), our processors are added to it and it is never replaced: replacing it is what
makes two libraries fight ("Overriding of current TracerProvider is not allowed"). Spans
are batched by the SDK's BatchSpanProcessor; a bounded flush at interpreter exit lets short
scripts deliver their last spans without ever hanging on a backend that does not answer.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from agentel import semconv as sc
from agentel import settings as s
from agentel.export import metrics as metrics_setup
from agentel.export import registry, spool
from agentel.export.delivery import (
    CountingBatchSpanProcessor,
    CountingSimpleSpanProcessor,
    DeliveryStats,
    FanOutProcessor,
    GuardedExporter,
    quiet_repeated_exporter_logs,
    run_all_bounded,
    run_bounded,
    start_thread,
)
from agentel.export.otlp import (
    HashedOnceResource,
    OTLPTarget,
    build_metric_exporter,
    resolve_target,
)
from agentel.export.spooler import Spooler
from agentel.redact import mask_url

_log = logging.getLogger(__name__)
_lock = threading.RLock()
_current: Pipeline | None = None

DEFAULT_EXPORT_TIMEOUT = 30.0
_OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


class Pipeline:
    """The handle ``setup()`` returns: flush, shut down, and see what could not be sent."""

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider,
        owns_tracer_provider: bool,
        meter_provider: MeterProvider | None,
        owns_meter_provider: bool,
        exporters: Sequence[registry.NamedExporter],
        lanes: Sequence[_Lane],
        fan_out: FanOutProcessor | None,
        exit_flush_timeout: float,
        auto: bool = False,
    ) -> None:
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.joined = not owns_tracer_provider
        self.instrumented: list[str] = []
        self._owns_tracer_provider = owns_tracer_provider
        self._owns_meter_provider = owns_meter_provider
        self._exporters = {named.name: named.exporter for named in exporters}
        self._lanes = tuple(lanes)
        self._stats = {lane.stats.name: lane.stats for lane in lanes}
        self._fan_out = fan_out
        self._exit_flush_timeout = exit_flush_timeout
        self._auto = auto
        self._closed = False

    @property
    def exporters(self) -> dict[str, SpanExporter]:
        """The exporters by name (``otlp``, ``memory``, ... or the class name of an instance)."""
        return dict(self._exporters)

    def exporter(self, name: str) -> SpanExporter:
        """One exporter, e.g. ``pipeline.exporter("memory").get_finished_spans()``."""
        return self._exporters[name]

    @property
    def delivery(self) -> dict[str, DeliveryStats]:
        """Per exporter: spans produced, exported, spooled, failed, dropped and abandoned
        (consistent copies; they always add up, with ``pending`` while spans are queued)."""
        return {name: stat.snapshot() for name, stat in self._stats.items()}

    @property
    def undelivered_spans(self) -> int:
        """Spans that will not reach their backend (failed, dropped, abandoned), over all
        exporters; spooled spans are not among them."""
        return sum(stat.undelivered for stat in self._stats.values())

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export every finished span (and metric) now, and send what the spools hold if the
        backends answer; wait at most ``timeout_millis``."""
        deadline = time.monotonic() + timeout_millis / 1000
        return all(self._flush_all(deadline, probe=True))

    def _flush_all(self, deadline: float, probe: bool) -> list[bool]:
        """Every exporter at once, each on its own thread: a hung one holds up no other.
        ``probe``: send what the spools hold even to a backend last seen down."""
        jobs: list[Callable[[], bool]] = []
        if self._fan_out is not None and not self._fan_out.closed:
            jobs.extend(lane.flusher(deadline, probe) for lane in self._lanes)
        if self.meter_provider is not None:
            jobs.append(lambda: bool(self.meter_provider.force_flush()))  # type: ignore[union-attr]
        results = run_all_bounded(jobs, max(deadline - time.monotonic(), 0.0), "flush")
        return [result is True for result in results]

    def shutdown(self, timeout_millis: int | None = None) -> None:
        """Flush every exporter in parallel for at most the exit timeout in total; then spool
        what is left (or count it abandoned) and close what this pipeline added or built."""
        global _current
        with _lock:
            if self._closed:
                return
            self._closed = True
            if _current is self:
                _current = None
        atexit.unregister(self._at_exit)
        timeout = self._exit_flush_timeout if timeout_millis is None else timeout_millis / 1000
        deadline = time.monotonic() + timeout
        self._flush_all(deadline, probe=False)
        for lane in self._lanes:
            lane.settle_at_exit()
        run_bounded(self._close, max(deadline - time.monotonic(), 0.5), "shutdown")

    def _retire(self) -> bool:
        """Close this pipeline's exporters but leave its providers running for the next
        pipeline; returns whether that one now owns the TracerProvider."""
        owned = self._owns_tracer_provider
        self._owns_tracer_provider = False
        self._owns_meter_provider = False
        self.shutdown()
        return owned

    def _close(self) -> None:
        if self._fan_out is not None:
            self._fan_out.shutdown()
        if self._owns_tracer_provider and isinstance(self.tracer_provider, TracerProvider):
            self.tracer_provider.shutdown()
        if self.meter_provider is not None and self._owns_meter_provider:
            self.meter_provider.shutdown()

    def _at_exit(self) -> None:
        self.shutdown()
        for stat in self._stats.values():
            if stat.exported == stat.produced:
                continue
            kept = (
                f"; the spooled ones wait in {stat.spool_path} for the next process that "
                "uses this spool"
                if stat.spooled
                else ""
            )
            _log.warning(
                "agentel: %d span(s) could not be sent by the %s exporter (%s)%s.",
                stat.produced - stat.exported,
                stat.name,
                stat.summary(),
                kept,
            )


class _Lane:
    """One exporter's path: its processor, its guard and stats, and its spool if it has one."""

    def __init__(
        self, processor: SpanProcessor, guarded: GuardedExporter, spooler: Spooler | None
    ) -> None:
        self.processor = processor
        self.guarded = guarded
        self.stats = guarded.stats
        self.spooler = spooler

    def flusher(self, deadline: float, probe: bool) -> Callable[[], bool]:
        def flush() -> bool:
            done = bool(self.processor.force_flush())
            done = self.guarded.force_flush() and done
            if self.spooler is not None and (probe or self.spooler.healthy):
                done = self.spooler.drain(deadline) and done
            return done

        return flush

    def settle_at_exit(self) -> None:
        """Whatever is still queued or being sent: spooled, else abandoned."""
        remaining = self.guarded.close_out()
        if self.spooler is None:
            self.stats.add("abandoned", len(remaining))
            return
        self.spooler.stop()
        self.spooler.keep(remaining, "the exit deadline passed before they were sent")
        self.spooler.close()
        if remaining:
            # An export cut off here must not deliver its batch late (its retries go on in
            # its thread) as well as from the spool: shutting the exporter down stops them.
            start_thread(self.guarded.shutdown, f"agentel-close-{self.stats.name}")


def _split(
    exporters: str | SpanExporter | Sequence[str | SpanExporter] | None,
) -> tuple[list[str] | None, list[SpanExporter]]:
    if exporters is None:
        return None, []
    if isinstance(exporters, (str, SpanExporter)):
        exporters = [exporters]
    names: list[str] = []
    instances: list[SpanExporter] = []
    for item in exporters:
        if isinstance(item, SpanExporter):
            instances.append(item)
        elif isinstance(item, str):
            names.extend(item.split(","))
        else:
            raise s.SettingError(
                f"exporters: {item!r} is neither an exporter name nor a SpanExporter."
            )
    return names, instances


def _chosen_names(
    config: s.PipelineSettings,
    explicit: bool,
    building: bool,
    env: Mapping[str, str],
    auto: bool = False,
) -> tuple[str, ...]:
    """The exporter names to build. An OTLP preset implies ``otlp``. When none were named:
    ``otlp`` if an OTLP endpoint variable is set and we build the provider, else ``console``
    when we build it (the user asked for tracing and should see it), else none: a joined
    provider already sends its spans somewhere.

    Under ``opentelemetry-instrument``, an ``agentel_otlp`` in ``OTEL_TRACES_EXPORTER`` already
    serves the preset and the OTLP variables: adding ``otlp`` again would send every span twice.
    """
    names = config.exporters
    if config.otlp_preset is not None and "otlp" not in names:
        names = ("otlp", *names)
    if auto and "agentel_otlp" in _otel_traces_exporters(env):
        names = tuple(name for name in names if name != "otlp")
    if explicit or any(name != "celesto" for name in names):
        return names
    if building and any(env.get(var) for var in _OTLP_ENDPOINT_VARIABLES):
        return ("otlp", *names)
    if building and not names:
        return ("console",)
    return names


def _otel_traces_exporters(env: Mapping[str, str]) -> set[str]:
    return {name.strip() for name in env.get(s.ENV_OTEL_TRACES_EXPORTER, "").split(",")}


def _current_provider(given: TracerProvider | None) -> tuple[trace.TracerProvider, bool]:
    """(provider, joined)."""
    if given is not None:
        return given, True
    current = trace.get_tracer_provider()
    if isinstance(current, trace.ProxyTracerProvider):
        return current, False
    return current, True


def _resource(config: s.PipelineSettings, attributes: Mapping[str, Any] | None) -> Resource:
    """The resource of a provider we build; hashed once, as every span's export hashes it."""
    values: dict[str, Any] = dict(attributes or {})
    if config.service_name:
        values[SERVICE_NAME] = config.service_name
    project = os.environ.get(s.ENV_PHOENIX_PROJECT_NAME)
    if config.otlp_preset == "phoenix" and project:
        values.setdefault(sc.OI_PROJECT_NAME, project)
    return HashedOnceResource.of(Resource.create(values))


def _lane(
    named: registry.NamedExporter, batch: s.BatchSettings, spool_settings: s.SpoolSettings
) -> _Lane:
    stats = DeliveryStats(named.name)
    if named.immediate:
        guarded = GuardedExporter(named.exporter, stats)
        return _Lane(CountingSimpleSpanProcessor(guarded), guarded, None)
    # An export is cut off a second after its own timeout; one with none (a user's
    # exporter) after OTEL_BSP_EXPORT_TIMEOUT's default of 30 s.
    cutoff = (batch.export_timeout or DEFAULT_EXPORT_TIMEOUT) + 1.0
    guarded = GuardedExporter(named.exporter, stats, cutoff=cutoff)
    spooler = None
    if named.spool_destination is not None and spool_settings.enabled:
        spooler = open_spooler(named, spool_settings, stats, guarded, lease=2 * cutoff + 5)
        guarded.spooler = spooler
    extra: dict[str, float] = {}
    if batch.export_timeout is not None:
        extra["export_timeout_millis"] = batch.export_timeout * 1000
    processor = CountingBatchSpanProcessor(
        guarded,
        max_queue_size=batch.max_queue_size,
        schedule_delay_millis=(batch.schedule_delay or 0) * 1000,
        max_export_batch_size=batch.max_export_batch_size,
        **extra,
    )
    return _Lane(processor, guarded, spooler)


def open_spooler(
    named: registry.NamedExporter,
    settings: s.SpoolSettings,
    stats: DeliveryStats,
    guarded: GuardedExporter,
    lease: float,
) -> Spooler | None:
    """The exporter's spool, or None (warned once) when no writable directory is at hand:
    the app goes on and what cannot be sent is counted as failed."""
    destination = named.spool_destination or ""
    directory = Path(settings.directory) if settings.directory else spool.default_dir()
    path = spool.file_for(directory, named.name, destination)
    try:
        opened = spool.Spool(
            path, named.name, mask_url(destination), int(settings.max_mb * 1024 * 1024)
        )
    except Exception as error:
        _log.warning(
            "agentel: the %s exporter has no spool (%s: %s); spans it cannot send are "
            "counted as failed. Set %s to a writable directory, or %s=false.",
            named.name,
            path,
            error,
            s.ENV_SPOOL_DIR,
            s.ENV_SPOOL,
        )
        return None
    return Spooler(opened, stats, guarded.send, lease)


def _named_instances(instances: Sequence[SpanExporter]) -> list[registry.NamedExporter]:
    named: list[registry.NamedExporter] = []
    for instance in instances:
        name = type(instance).__name__
        count = sum(1 for n in named if n.name.split("#")[0] == name)
        unique = f"{name}#{count + 1}" if count else name
        # An exporter that says where it sends (Celesto's) gets a spool, as its named form does.
        destination = getattr(instance, "spool_destination", None)
        named.append(registry.NamedExporter(unique, instance, False, destination))
    return named


def setup(
    exporters: str | SpanExporter | Sequence[str | SpanExporter] | None = None,
    *,
    service_name: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    otlp: str | None = None,
    otlp_endpoint: str | None = None,
    otlp_headers: Mapping[str, str] | None = None,
    otlp_protocol: str | None = None,
    dialect: str | None = None,
    schedule_delay: float | None = None,
    max_export_batch_size: int | None = None,
    max_queue_size: int | None = None,
    export_timeout: float | None = None,
    capture_content: str | bool | s.ContentCapture | None = None,
    content_max_length: int | None = None,
    sample_ratio: float | None = None,
    metrics: bool | None = None,
    metric_readers: Sequence[MetricReader] = (),
    tracer_provider: TracerProvider | None = None,
    db_url: str | None = None,
    store: Any = None,
    exit_flush_timeout: float | None = None,
    spool: bool | None = None,
    spool_dir: str | None = None,
    spool_max_mb: float | None = None,
    instrument: bool = True,
    keep_openai_export: bool | None = None,
    keep_agentor_export: bool | None = None,
    _auto: bool = False,
) -> Pipeline:
    """Build (or join) the tracing pipeline and instrument every installed framework.

    Every argument has an environment equivalent (see the README's settings table); the
    argument wins. Bad values raise :class:`agentel.settings.SettingError` naming the
    setting, before anything global is changed. A second call returns the first pipeline.
    """
    global _current
    with _lock:
        if _current is not None and not _current._auto:
            _log.warning("agentel.setup() was already called; returning the existing pipeline.")
            return _current
        names, instances = _split(exporters)
        if store is not None:
            db_url = registry.store_url(store)
            if names is None and not os.environ.get(s.ENV_EXPORTERS, "").strip():
                names = ["postgres" if db_url.startswith("postgres") else "sqlite"]
        config = s.PipelineSettings.from_env(
            exporters=names,
            otlp=otlp,
            otlp_protocol=otlp_protocol,
            dialect=dialect,
            sample_ratio=sample_ratio,
            metrics=metrics,
            exit_flush_timeout=exit_flush_timeout,
            service_name=service_name,
            batch={
                "schedule_delay": schedule_delay,
                "max_queue_size": max_queue_size,
                "max_export_batch_size": max_export_batch_size,
                "export_timeout": export_timeout,
            },
            capture_content=capture_content,
            content_max_length=content_max_length,
        )
        spool_settings = s.SpoolSettings.from_env(
            enabled=spool, directory=spool_dir, max_mb=spool_max_mb
        )
        provider, joined = _current_provider(tracer_provider)
        building = not joined
        named, target = plan(
            config,
            names,
            instances,
            building=building,
            otlp_endpoint=otlp_endpoint,
            otlp_headers=otlp_headers,
            db_url=db_url,
            auto=_auto,
        )
        chosen = [n.name for n in named]
        if "otlp" in chosen:
            quiet_repeated_exporter_logs()
        named += _named_instances(instances)
        inherited = False
        if _current is not None:  # an automatic pipeline gives way to an explicit setup()
            inherited = _current._retire()
        pipeline = _assemble(
            config,
            provider,
            building,
            named,
            target,
            metric_readers,
            resource_attributes,
            _auto,
            spool_settings,
        )
        pipeline._owns_tracer_provider = pipeline._owns_tracer_provider or inherited
        if instrument:
            pipeline.instrumented = _instrument(
                pipeline, config, keep_openai_export, keep_agentor_export
            )
        atexit.register(pipeline._at_exit)
        _current = pipeline
        return pipeline


def plan(
    config: s.PipelineSettings,
    names: Sequence[str] | None = None,
    instances: Sequence[SpanExporter] = (),
    *,
    building: bool = True,
    otlp_endpoint: str | None = None,
    otlp_headers: Mapping[str, str] | None = None,
    db_url: str | None = None,
    auto: bool = False,
) -> tuple[list[registry.NamedExporter], OTLPTarget]:
    """The exporters ``setup()`` builds for ``config`` and where OTLP goes, each checked:
    a bad value raises the SettingError setup() raises, before anything global changes.
    ``agentel doctor`` calls this too, so it checks exactly what setup() would."""
    explicit = names is not None or bool(os.environ.get(s.ENV_EXPORTERS, "").strip())
    chosen = _chosen_names(config, explicit or bool(instances), building, os.environ, auto)
    if any(type(i).__name__ == "CelestoSpanExporter" for i in instances):
        chosen = tuple(name for name in chosen if name != "celesto")  # no double send
    target = (
        resolve_target(
            config.otlp_preset,
            config.otlp_protocol,
            endpoint=otlp_endpoint,
            headers=otlp_headers,
            protocol_source=config.otlp_protocol_source,
        )
        if "otlp" in chosen
        else OTLPTarget()
    )
    return [registry.build(n, config, target, db_url=db_url) for n in chosen], target


def _assemble(
    config: s.PipelineSettings,
    provider: trace.TracerProvider,
    building: bool,
    named: Sequence[registry.NamedExporter],
    target: OTLPTarget,
    metric_readers: Sequence[MetricReader],
    resource_attributes: Mapping[str, Any] | None,
    auto: bool,
    spool_settings: s.SpoolSettings,
) -> Pipeline:
    resource = _resource(config, resource_attributes)
    if building:
        sampler = None
        if config.sample_ratio is not None:
            sampler = ParentBased(TraceIdRatioBased(config.sample_ratio))
        provider = TracerProvider(resource=resource, sampler=sampler, shutdown_on_exit=False)
        trace.set_tracer_provider(provider)
    else:
        _warn_unused_on_join(config, resource_attributes)
    fan_out = None
    lanes: list[_Lane] = []
    if named:
        if isinstance(provider, TracerProvider):
            lanes = [_lane(n, config.batch, spool_settings) for n in named]
            fan_out = FanOutProcessor([lane.processor for lane in lanes])
            provider.add_span_processor(fan_out)
        else:
            _log.warning(
                "agentel: the global TracerProvider (%s) is not the OTel SDK's; agentel's "
                "exporters are not added and spans go where that provider sends them.",
                type(provider).__name__,
            )
    readers = list(metric_readers)
    if config.metrics and "otlp" in {n.name for n in named} and target.accepts_metrics:
        readers.append(
            PeriodicExportingMetricReader(
                build_metric_exporter(
                    config.otlp_protocol,
                    target,
                    config.batch.export_timeout,
                    protocol_source=config.otlp_protocol_source,
                )
            )
        )
    meter_provider, meter_joined = (
        metrics_setup.build_or_join(readers, resource) if config.metrics else (None, False)
    )
    return Pipeline(
        tracer_provider=provider,
        owns_tracer_provider=building,
        meter_provider=meter_provider,
        owns_meter_provider=meter_provider is not None and not meter_joined,
        exporters=named,
        lanes=lanes,
        fan_out=fan_out,
        exit_flush_timeout=config.exit_flush_timeout,
        auto=auto,
    )


def _warn_unused_on_join(
    config: s.PipelineSettings, resource_attributes: Mapping[str, Any] | None
) -> None:
    if config.sample_ratio is not None or config.service_name or resource_attributes:
        _log.warning(
            "agentel: joined an existing TracerProvider; its sampler and resource stay as "
            "they are, so sample_ratio, service_name and resource_attributes are not applied."
        )


def _instrument(
    pipeline: Pipeline,
    config: s.PipelineSettings,
    keep_openai_export: bool | None,
    keep_agentor_export: bool | None = None,
) -> list[str]:
    """Instrument installed frameworks; a framework's failure must not fail setup()."""
    from agentel import instrument as instrument_frameworks

    meter_provider = pipeline.meter_provider
    if not config.metrics:  # off means off, even when some other MeterProvider is global
        meter_provider = NoOpMeterProvider()
    kwargs: dict[str, Any] = {
        "tracer_provider": pipeline.tracer_provider,
        "meter_provider": meter_provider,
        "capture_content": config.content.capture,
        "content_max_length": config.content.max_length,
        "capture_blobs": config.content.capture_blobs,
    }
    if keep_openai_export is not None:
        kwargs["keep_openai_export"] = keep_openai_export
    if keep_agentor_export is not None:
        kwargs["keep_agentor_export"] = keep_agentor_export
    try:
        return instrument_frameworks(**kwargs)
    except Exception as error:
        _log.warning("agentel: instrumenting frameworks failed (%s); tracing stays off.", error)
        return []


def current() -> Pipeline | None:
    """The pipeline ``setup()`` built, if it is still open."""
    return _current


def delivery() -> dict[str, DeliveryStats]:
    """Per exporter of the current pipeline: where its spans went (empty without one)."""
    pipeline = _current
    return {} if pipeline is None else pipeline.delivery


def flush(timeout_millis: int = 30_000) -> bool:
    """Flush the current pipeline; True when there is nothing to flush."""
    pipeline = _current
    return True if pipeline is None else pipeline.force_flush(timeout_millis)


def shutdown() -> None:
    """Flush and close the current pipeline, if any."""
    pipeline = _current
    if pipeline is not None:
        pipeline.shutdown()
