"""Which backends agentel is sending spans to right now.

A framework may have an exporter of its own for the same backend (Agentor uploads each run
to Celesto itself); its instrumentor asks here so a run is not sent twice. agentel's exporter
for a backend announces itself when it is made, however it was made (``agentel.setup()``,
``opentelemetry-instrument`` with ``OTEL_TRACES_EXPORTER``, the user's own code), and
withdraws when it shuts down or is collected. It sits beside ``settings`` because both the
exporters (which announce) and the instrumentors (which ask) use it, and neither layer may
import the other.
"""

from __future__ import annotations

import threading
import weakref

_lock = threading.Lock()
_senders: dict[str, weakref.WeakSet[object]] = {}


def announce(backend: str, sender: object) -> None:
    with _lock:
        _senders.setdefault(backend, weakref.WeakSet()).add(sender)


def withdraw(sender: object) -> None:
    with _lock:
        for senders in _senders.values():
            senders.discard(sender)


def sending_to(backend: str) -> bool:
    with _lock:
        return bool(_senders.get(backend))
