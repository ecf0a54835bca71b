"""Backends that misbehave on purpose, on 127.0.0.1: refuse, hang, answer 5xx/429 then
recover, or answer slowly. Each records the OTLP requests it accepted (answered 2xx), so a
test can check that every span arrived, and only once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from otlp_receiver import ReceivedSpan, Request, decode_spans


def closed_port() -> int:
    """A port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FaultyBackend:
    """An OTLP/HTTP (or Celesto) endpoint on ``port`` whose answers a test scripts.

    ``script`` holds statuses (or ``(status, headers)``) for the next requests, then 200;
    ``hang`` holds every request until it is set; ``delay`` answers late. ``start()`` and
    ``stop()`` may be called repeatedly: stopped, the port refuses connections.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or closed_port()
        self.script: list[int | tuple[int, dict[str, str]]] = []
        self.hang = threading.Event()
        self.hang.set()
        self.delay = 0.0
        self.accepted: list[Request] = []
        self.answered: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._generation = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        backend = self
        generation = self._generation  # requests of a stopped server never get an answer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                backend.hang.wait(30)
                if backend._generation != generation:  # released by stop(): no answer
                    self.close_connection = True
                    return
                if backend.delay:
                    time.sleep(backend.delay)  # the slow backend itself, not synchronisation
                with backend._lock:
                    answer = backend.script.pop(0) if backend.script else 200
                    status, headers = answer if isinstance(answer, tuple) else (answer, {})
                    backend.answered.append(status)
                    if 200 <= status < 300:
                        headers_in = {k.lower(): v for k, v in self.headers.items()}
                        backend.accepted.append(Request(self.path, headers_in, body))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> FaultyBackend:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        self._server = server
        return self

    def stop(self) -> None:
        self._generation += 1
        self.hang.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return decode_spans(list(self.accepted))

    def __enter__(self) -> FaultyBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def poll(
    condition: Callable[[], bool], timeout: float = 20.0, every: Callable[[], Any] | None = None
) -> None:
    """Wait for ``condition`` (calling ``every`` between checks, e.g. a flush); fail after a
    generous deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        if every is not None:
            every()
        time.sleep(0.02)
