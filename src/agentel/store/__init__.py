"""Where traces are kept when there is no tracing backend: SQLite by default, or PostgreSQL.

``open_store()`` picks the database from its argument, else ``AGENTEL_DB``, else
``./agentel.db``. The exporter (:mod:`agentel.store.exporter`) writes into a store; the
``agentel`` command and your own code read it with the query API of :class:`TraceStore`.
"""

from __future__ import annotations

import os
from pathlib import Path

from agentel.settings import DEFAULT_DB, ENV_DB, SettingError
from agentel.store.base import TraceStore
from agentel.store.model import SpanRecord, StatsRow, TraceSummary, TraceTree
from agentel.store.schema import SCHEMA_VERSION, SchemaTooNewError, StoreOpenError

__all__ = [
    "SCHEMA_VERSION",
    "SchemaTooNewError",
    "SpanRecord",
    "StatsRow",
    "StoreOpenError",
    "TraceStore",
    "TraceSummary",
    "TraceTree",
    "open_store",
    "resolve_url",
    "sqlite_path",
]

_ACCEPTED = (
    "a file path (./agentel.db), sqlite:///relative/path.db, sqlite:////absolute/path.db, "
    "or postgresql://user:password@host:5432/dbname[?schema=name]"
)


def resolve_url(url: str | None = None) -> str:
    """The store URL in effect: the argument, else ``AGENTEL_DB``, else ``./agentel.db``.

    A bare path means SQLite; any other scheme than sqlite and postgresql is an error.
    """
    raw = (url or os.environ.get(ENV_DB) or DEFAULT_DB).strip()
    source = "the store URL" if url else ENV_DB
    scheme, sep, _ = raw.partition("://")
    if not sep:
        if not raw:
            raise SettingError(f"{source} is empty; use {_ACCEPTED}")
        return f"sqlite:///{raw}"
    scheme = scheme.lower()
    if scheme == "sqlite":
        return raw
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        return "postgresql://" + raw.split("://", 1)[1]
    raise SettingError(f"{source}={raw!r} has an unknown scheme {scheme!r}; use {_ACCEPTED}")


def sqlite_path(url: str) -> Path | None:
    """The file a resolved ``sqlite:///`` URL names, or None for other databases."""
    if not url.startswith("sqlite://"):
        return None
    path = url[len("sqlite://") :].partition("?")[0]
    if path.startswith("/"):
        path = path[1:]  # sqlite:///rel.db -> rel.db, sqlite:////abs.db -> /abs.db
    if not path:
        raise SettingError(f"{url!r} names no file; use {_ACCEPTED}")
    return Path(path)


def shared_database(url: str) -> bool:
    """Whether the URL asks (``?shared=true``) for agentel's tables beside other tables."""
    query = url.partition("?")[2]
    values = [v for k, _, v in (p.partition("=") for p in query.split("&")) if k == "shared"]
    return bool(values) and values[-1].lower() in ("1", "true", "yes", "on")


def open_store(url: str | None = None, *, read_only: bool = False) -> TraceStore:
    """Open the trace store that ``url`` names: for writing (creating or upgrading it), or
    with ``read_only=True`` as it stands, changing nothing (also on a read-only mount).

    Writing into a database that already holds other tables is refused unless the URL asks
    for it with ``?shared=true`` (or, for PostgreSQL, names a ``?schema=`` of agentel's own).

    Raises :class:`SettingError` for a URL agentel cannot use, :class:`SchemaTooNewError`
    for a database written by a newer agentel and :class:`StoreOpenError` for a database
    it will not read or write as it stands (the message says what to do).
    """
    resolved = resolve_url(url)
    path = sqlite_path(resolved)
    shared = shared_database(resolved)
    if path is not None:
        from agentel.store.sqlite import SQLiteStore

        return SQLiteStore(path, read_only=read_only, shared=shared)
    from agentel.store.postgres import PostgresStore

    return PostgresStore(resolved, read_only=read_only)
