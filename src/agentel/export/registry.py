"""Exporter names (``otlp``, ``console``, ``celesto``, ``memory``, ``sqlite``,
``postgres``) to SpanExporter instances; each is imported only when named."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter

from agentel import settings as s
from agentel.export.openinference import with_dialect
from agentel.export.otlp import OTLPTarget, build_span_exporter


@dataclass(frozen=True)
class NamedExporter:
    """One exporter of the pipeline. ``immediate`` exporters (memory) skip batching so
    tests and notebooks see spans the moment they end."""

    name: str
    exporter: SpanExporter
    immediate: bool = False


def _db_url(name: str, db_url: str | None, env: Mapping[str, str]) -> str:
    url = db_url or env.get(s.ENV_DB, "")
    if name == "sqlite":
        return url if url.startswith("sqlite") else s.DEFAULT_DB
    if not url.startswith("postgres"):
        raise s.SettingError(
            f"The postgres exporter needs a PostgreSQL URL in db_url or {s.ENV_DB} "
            f"(postgresql://user@host/db); it is {url or 'unset'}."
        )
    return url


def build(
    name: str,
    config: s.PipelineSettings,
    target: OTLPTarget,
    *,
    db_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> NamedExporter:
    """The exporter called ``name``, configured from ``config`` and the environment."""
    env = os.environ if env is None else env
    exporter: Any
    if name == "otlp":
        exporter = build_span_exporter(config.otlp_protocol, target, config.batch.export_timeout)
        return NamedExporter(name, with_dialect(exporter, config.dialect))
    if name == "console":
        from agentel.export.console import ConsoleTreeExporter

        return NamedExporter(name, ConsoleTreeExporter())
    if name == "celesto":
        from agentel.export.celesto import CelestoSpanExporter

        return NamedExporter(name, CelestoSpanExporter())
    if name == "memory":
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        return NamedExporter(name, InMemorySpanExporter(), immediate=True)
    if name in ("sqlite", "postgres"):
        from agentel.store.exporter import StoreSpanExporter

        return NamedExporter(name, StoreSpanExporter(_db_url(name, db_url, env)))
    raise s.SettingError(f"unknown exporter {name!r}; use one of {', '.join(s.EXPORTER_NAMES)}.")
