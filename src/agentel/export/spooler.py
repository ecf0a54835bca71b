"""Sending what the spool holds: oldest batch first, with backoff while the backend is down.

While the backend answers, batches go to it directly and the spool stays empty. The first
batch it does not take marks it down: from then on batches go straight to the spool (no
batch waits out a timeout on a dead backend), and this replayer probes the backend with the
oldest batch, waiting longer after each failure (1 s doubling to 30 s, with jitter), until
one goes through; then it sends the rest in order and direct sending resumes. A process that
starts with batches left by an earlier one sends them the same way.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan

from agentel.export import spool_codec
from agentel.export.delivery import DeliveryStats, start_thread
from agentel.export.spool import Entry, Spool

_log = logging.getLogger(__name__)

BASE_DELAY = 1.0
MAX_DELAY = 30.0
Send = Callable[[Sequence[ReadableSpan]], tuple[list[ReadableSpan], str, bool]]


class Spooler:
    """One exporter's spool and the daemon thread that empties it."""

    def __init__(self, spool: Spool, stats: DeliveryStats, send: Send, lease: float) -> None:
        self.spool = spool
        self.healthy = True
        self._stats = stats
        self._send = send
        self._lease = lease
        self._last_direct_success = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_lock = threading.Lock()
        stats.spool_path = str(spool.path)
        self._pid = 0
        self._ensure_thread()
        if spool.summary().batches:
            self._wake.set()  # batches left by an earlier process

    def _ensure_thread(self) -> None:
        """The replayer thread; started again in a forked child, which has none."""
        if self._pid != os.getpid() and not self._stop.is_set():
            self._pid = os.getpid()
            start_thread(self._run, f"agentel-spool-{self._stats.name}")

    # --- called by the exporter --------------------------------------------------------------

    def keep(self, spans: Sequence[ReadableSpan], reason: str) -> None:
        """Write spans (already taken from the stats) to the spool, and count them."""
        if not spans:
            return
        self._ensure_thread()
        try:
            evicted = self.spool.put(spool_codec.encode(spans), len(spans))
        except Exception as error:
            self._stats.add("failed", len(spans))
            self._stats.warn_once("spool", f"{reason}, and the spool could not keep them: {error}")
            return
        self._stats.add("spooled", len(spans))
        for origin, count in evicted:
            if origin == self.spool.origin:
                self._stats.move("spooled", "dropped", count)
            else:
                self._stats.add("replay_dropped", count)
        if evicted:
            self._stats.warn_once(
                "spool-full", f"the spool reached its {self.spool.max_bytes >> 20} MB cap"
            )
        self._stats.warn_once("export", reason)
        if self.healthy:
            self._wake.set()

    def mark_down(self) -> None:
        if self.healthy:
            self.healthy = False
            self._wake.set()  # start probing (with backoff from the first failure on)

    def sent_directly(self) -> None:
        self._last_direct_success = time.monotonic()

    # --- replaying ---------------------------------------------------------------------------

    def drain(self, deadline: float | None = None) -> bool:
        """Send spooled batches, oldest first, until the spool is empty (True), the backend
        fails (False) or ``deadline`` (monotonic) passes."""
        with self._drain_lock:
            while not self._stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                entry = self.spool.claim(self._lease)
                if entry is None:
                    return True
                if not self._replay(entry):
                    return False
            return False

    def _replay(self, entry: Entry) -> bool:
        started = time.monotonic()
        try:
            spans = spool_codec.decode(entry.payload)
        except Exception as error:  # not ours to read (a damaged row): drop it, counted
            _log.debug("agentel: spooled batch %d cannot be decoded: %s", entry.id, error)
            self.spool.done(entry)
            self._account(entry, "failed")
            return True
        undelivered, _reason, _down = self._send(spans)
        if not undelivered:
            self.spool.done(entry)
            self._account(entry, "exported")
            self.healthy = True
            return True
        if self._last_direct_success > started:
            # The backend took other batches meanwhile but refuses this one: give it up.
            self.spool.done(entry)
            self._account(entry, "failed")
            return True
        self.spool.release(entry)
        self.healthy = False
        return False

    def _account(self, entry: Entry, outcome: str) -> None:
        if entry.origin == self.spool.origin:
            self._stats.move("spooled", outcome, entry.spans)
        elif outcome == "exported":
            self._stats.add("replayed", entry.spans)
        else:
            self._stats.add("replay_dropped", entry.spans)

    def _run(self) -> None:
        delay = BASE_DELAY
        while True:
            self._wake.wait(None if self.healthy else delay * random.uniform(0.8, 1.2))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                emptied = self.drain()
            except Exception:
                _log.debug("agentel: replaying the spool failed", exc_info=True)
                emptied = False
            delay = BASE_DELAY if emptied else min(delay * 2, MAX_DELAY)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def close(self) -> None:
        self.stop()
        try:
            self.spool.close()
        except Exception:
            _log.debug("agentel: closing the spool failed", exc_info=True)
