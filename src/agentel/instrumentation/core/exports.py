"""Which backends agentel's own pipeline is sending spans to right now.

A framework may have an exporter of its own for the same backend (Agentor uploads each run
to Celesto itself); its instrumentor asks here so a run is not sent twice. The pipeline
announces its exporters when it is built and withdraws them when it closes; an instrumentor
used under someone else's TracerProvider sees nothing announced and changes nothing.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_senders: dict[str, set[int]] = {}


def announce(backend: str, owner: object) -> None:
    with _lock:
        _senders.setdefault(backend, set()).add(id(owner))


def withdraw(owner: object) -> None:
    with _lock:
        for owners in _senders.values():
            owners.discard(id(owner))


def sending_to(backend: str) -> bool:
    return bool(_senders.get(backend))
