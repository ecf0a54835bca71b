"""The Instrumentor shape every framework shares, on OpenTelemetry's ``BaseInstrumentor``.

``instrument()`` builds the framework's installation from its keyword arguments and puts it in
place; ``uninstrument()`` takes out exactly that installation. A framework's instrumentor
names its supported versions and how to build its installation, nothing else.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor


class Installation(Protocol):
    def install(self) -> None: ...

    def uninstall(self) -> None: ...


class GuestInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Subclasses set ``_instruments`` and implement ``_create_installation``."""

    _instruments: tuple[str, ...] = ()
    # BaseInstrumentor is a singleton whose __init__ runs on every construction, so the
    # installation lives in a class-level default rather than being reset in __init__.
    _installation: Installation | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return self._instruments

    def _create_installation(self, **kwargs: Any) -> Installation:
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        installation = self._create_installation(**kwargs)
        installation.install()
        self._installation = installation

    def _uninstrument(self, **kwargs: Any) -> None:
        installation, self._installation = self._installation, None
        if installation is not None:
            installation.uninstall()
