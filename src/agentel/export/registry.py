"""Exporter names (``otlp``, ``console``, ``celesto``, ``memory``, ``store`` and its aliases
``sqlite``/``postgres``) to SpanExporter instances; each is imported only when named."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.sdk.trace.export import SpanExporter

from agentel import settings as s
from agentel.export.dialects import with_dialect
from agentel.export.otlp import OTLPTarget, build_span_exporter


@dataclass(frozen=True)
class NamedExporter:
    """One exporter of the pipeline. ``immediate`` exporters (memory) skip batching so
    tests and notebooks see spans the moment they end."""

    name: str
    exporter: SpanExporter
    immediate: bool = False


def _db_url(name: str, db_url: str | None) -> str:
    """The store URL for the store exporter: ``db_url``, else ``AGENTEL_DB``, else
    ``./agentel.db``. ``store`` takes either kind, so moving to PostgreSQL is a change of
    ``AGENTEL_DB`` only; the aliases ``sqlite`` and ``postgres`` also check the kind."""
    from agentel.store import resolve_url

    url = resolve_url(db_url)
    postgres = url.startswith("postgresql://")
    if name == "postgres" and not postgres:
        raise s.SettingError(
            f"The postgres exporter needs a PostgreSQL URL in db_url or {s.ENV_DB} "
            "(postgresql://user@host:5432/db); name the store exporter to write wherever "
            f"{s.ENV_DB} points."
        )
    if name == "sqlite" and postgres:
        raise s.SettingError(
            f"The sqlite exporter got a PostgreSQL URL from db_url or {s.ENV_DB}; name the "
            "store exporter, which writes wherever it points."
        )
    if postgres:
        try:
            import psycopg  # noqa: F401  (found now, not at the first export)
        except ImportError:
            raise s.SettingError(
                f"{s.ENV_DB} names a PostgreSQL store but its driver is not installed; "
                "pip install 'agentel[postgres]'."
            ) from None
    return url


def build(
    name: str,
    config: s.PipelineSettings,
    target: OTLPTarget,
    *,
    db_url: str | None = None,
) -> NamedExporter:
    """The exporter called ``name``, configured from ``config`` and the environment."""
    if name == "otlp":
        exporter = build_span_exporter(
            config.otlp_protocol,
            target,
            config.batch.export_timeout,
            protocol_source=config.otlp_protocol_source,
        )
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
    if name in s.STORE_EXPORTER_NAMES:
        from agentel.store.exporter import StoreSpanExporter

        return NamedExporter(name, StoreSpanExporter(_db_url(name, db_url)))
    raise s.SettingError(f"unknown exporter {name!r}; use one of {', '.join(s.EXPORTER_NAMES)}.")
