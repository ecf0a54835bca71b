"""Exporter names (``otlp``, ``console``, ``celesto``, ``memory``, ``store`` and its aliases
``sqlite``/``postgres``) to SpanExporter instances; each is imported only when named."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

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
    # Where a network exporter sends (its spool is kept per destination); None: no spool.
    spool_destination: str | None = None


def otlp_destination(protocol: str, target: OTLPTarget) -> str:
    """The URL the OTel OTLP exporter will send to, as it resolves it from the environment."""
    endpoint = target.endpoint or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not endpoint:
        if protocol == "grpc":
            endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4317"
        else:
            base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318"
            endpoint = base.rstrip("/") + "/v1/traces"
    return f"{protocol} {endpoint}"


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


def store_url(store: Any) -> str:
    """The store URL for ``setup(store=...)``: a URL or path as given, or the database a
    database object names (``db_url``, else ``db_file``, else its SQLAlchemy ``db_engine``),
    so an app keeps its traces in the database it already has (Agno's ``SqliteDb`` and
    ``PostgresDb`` are such objects). Handing over the app's own database asks for agentel's
    tables beside the app's, so its URL says ``shared=true``."""
    if isinstance(store, (str, os.PathLike)):
        return os.fspath(store)
    return _shared(_named_database(store))


def _named_database(store: Any) -> str:
    db_url = getattr(store, "db_url", None)
    if isinstance(db_url, str) and db_url:
        return db_url
    db_file = getattr(store, "db_file", None)
    if isinstance(db_file, (str, os.PathLike)) and os.fspath(db_file):
        return f"sqlite:///{os.fspath(db_file)}"
    engine_url = getattr(getattr(store, "db_engine", None), "url", None)
    if engine_url is not None:
        render = getattr(engine_url, "render_as_string", None)
        return render(hide_password=False) if render is not None else str(engine_url)
    raise s.SettingError(
        f"store={type(store).__name__} does not name its database; pass a URL "
        "(sqlite:///path.db, postgresql://user@host:5432/db) or an object with db_url, "
        "db_file or db_engine."
    )


def _shared(url: str) -> str:
    if "shared=" in url.partition("?")[2]:
        return url
    return f"{url}{'&' if '?' in url else '?'}shared=true"


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
        destination = otlp_destination(config.otlp_protocol, target)
        return NamedExporter(name, with_dialect(exporter, config.dialect), False, destination)
    if name == "console":
        from agentel.export.console import ConsoleTreeExporter

        return NamedExporter(name, ConsoleTreeExporter())
    if name == "celesto":
        from agentel.export.celesto import CelestoSpanExporter

        celesto = CelestoSpanExporter()
        return NamedExporter(name, celesto, False, celesto.spool_destination)
    if name == "memory":
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        return NamedExporter(name, InMemorySpanExporter(), immediate=True)
    if name in s.STORE_EXPORTER_NAMES:
        from agentel.store.exporter import StoreSpanExporter

        return NamedExporter(name, StoreSpanExporter(_db_url(name, db_url)))
    raise s.SettingError(f"unknown exporter {name!r}; use one of {', '.join(s.EXPORTER_NAMES)}.")
