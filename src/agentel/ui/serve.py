"""Run the viewer: bind the port first (so a port in use is one clear line), print the URL,
serve with uvicorn until Ctrl-C, then close the store."""

from __future__ import annotations

import socket
import sys
import webbrowser
from collections.abc import Callable

import uvicorn

from agentel.store import TraceStore
from agentel.ui.app import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8320
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class PortInUseError(OSError):
    """The port cannot be bound; the message names --port and what to do."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise PortInUseError(
            f"--port {port}: cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "another program may be using it, pick another with --port"
        ) from None
    sock.set_inheritable(True)
    return sock


def allowed_hosts(host: str) -> list[str]:
    """Host headers to answer: loopback names, plus the address given with --host."""
    if host in ("0.0.0.0", "::"):
        return ["*"]  # reachable under any name the network gives this machine
    return [*LOOPBACK, f"[{host}]" if ":" in host else host]


def serve(
    store: TraceStore,
    host: str,
    port: int,
    open_browser: bool = False,
    echo: Callable[[str], None] = print,
) -> None:
    if host not in LOOPBACK:
        echo(
            f"Warning: serving on {host}, not only this machine: anyone who can reach it can "
            "read the traces, which may hold prompts, tool arguments and other private content."
        )
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    app = create_app(store, allowed_hosts(host))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    echo(f"agentel viewer on {url} (store {store.url}); Ctrl-C to stop.")
    sys.stdout.flush()
    if open_browser:
        webbrowser.open(url)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled, once it has stopped
        pass
    finally:
        sock.close()
        store.close()
    echo("Viewer stopped.")
