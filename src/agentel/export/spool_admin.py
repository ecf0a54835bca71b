"""What ``agentel spool`` and ``agentel doctor`` show and do with the spool files."""

from __future__ import annotations

import os
import time
from pathlib import Path

from agentel import settings as s
from agentel.export import registry, spool
from agentel.export.delivery import DeliveryStats, GuardedExporter
from agentel.export.spooler import Spooler

_OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def directory(settings: s.SpoolSettings | None = None) -> Path:
    settings = settings or s.SpoolSettings.from_env()
    return Path(settings.directory) if settings.directory else spool.default_dir()


def _age(created: float | None) -> str:
    if created is None:
        return "empty"
    seconds = max(time.time() - created, 0.0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"oldest batch {seconds / size:.1f}{unit} old"
    return f"oldest batch {seconds:.0f}s old"


def describe(summary: spool.Summary) -> str:
    """``otlp -> http/protobuf http://...: 3 batches, 1536 spans, 0.4 MB, oldest ...``."""
    return (
        f"{summary.exporter} -> {summary.destination}: {summary.batches} batch(es), "
        f"{summary.spans} span(s), {summary.bytes / 1048576:.1f} MB, {_age(summary.oldest)}"
    )


def summaries(settings: s.SpoolSettings | None = None) -> list[spool.Summary]:
    found = []
    for path in spool.existing(directory(settings)):
        opened = spool.Spool.open_existing(path)
        try:
            found.append(opened.summary())
        finally:
            opened.close()
    return found


def status_lines(settings: s.SpoolSettings | None = None) -> list[str]:
    """One line for the spool as a whole, one per file that holds batches."""
    settings = settings or s.SpoolSettings.from_env()
    where = directory(settings)
    if not settings.enabled:
        return [f"off ({s.ENV_SPOOL}=false): spans a backend cannot take are counted as failed"]
    found = summaries(settings)
    total = sum(summary.bytes for summary in found)
    lines = [f"{where} ({total / 1048576:.1f} of {settings.max_mb:g} MB used)"]
    lines.extend(describe(summary) for summary in found if summary.batches)
    if not any(summary.batches for summary in found):
        lines.append("empty: every backend took what it was sent")
    return lines


def _configured(env: dict[str, str] | None = None) -> list[registry.NamedExporter]:
    """The network exporters the environment sets up, as ``agentel.setup()`` would."""
    from agentel.export.otlp import resolve_target

    env = dict(os.environ) if env is None else env
    config = s.PipelineSettings.from_env(env)
    named = []
    if (
        "otlp" in config.exporters
        or config.otlp_preset
        or any(env.get(v) for v in _OTLP_ENDPOINT_VARIABLES)
    ):
        target = resolve_target(config.otlp_preset, config.otlp_protocol, env=env)
        named.append(registry.build("otlp", config, target))
    if "celesto" in config.exporters:
        named.append(registry.build("celesto", config, resolve_target(None, "http/protobuf")))
    return named


def flush(timeout: float = 30.0) -> list[str]:
    """Send every spool file whose destination this environment configures; report each."""
    settings = s.SpoolSettings.from_env()
    where = directory(settings)
    lines: list[str] = []
    handled: set[Path] = set()
    deadline = time.monotonic() + timeout
    for named in _configured():
        path = spool.file_for(where, named.name, named.spool_destination or "")
        if not path.exists():
            continue
        handled.add(path)
        stats = DeliveryStats(named.name)
        guarded = GuardedExporter(named.exporter, stats, cutoff=max(timeout / 3, 1.0))
        opened = spool.Spool.open_existing(path, int(settings.max_mb * 1048576))
        spooler = Spooler(opened, stats, guarded.send, lease=timeout + 5)
        try:
            emptied = spooler.drain(deadline)
            left = opened.summary()
        finally:
            spooler.close()
            guarded.shutdown()
        if not left.batches:
            state = "sent all"
        elif emptied:
            state = "the rest is being sent by another process"
        else:
            state = "the backend did not take them all"
        lines.append(
            f"{named.name} -> {left.destination}: {state}; {stats.replayed} span(s) sent, "
            f"{stats.replay_dropped} refused, {left.spans} left"
        )
    for summary in summaries(settings):
        if summary.path not in handled and summary.batches:
            lines.append(
                f"{describe(summary)}: not sent, this environment does not configure that "
                "destination"
            )
    return lines or ["nothing to send"]


def clear() -> list[str]:
    """Delete every spooled batch; one line per file."""
    lines = []
    for path in spool.existing(directory()):
        opened = spool.Spool.open_existing(path)
        try:
            batches, spans = opened.clear()
            lines.append(
                f"{opened.exporter} -> {opened.destination}: deleted {batches} batch(es), "
                f"{spans} span(s)"
            )
        finally:
            opened.close()
    return lines or ["the spool is empty"]
