"""The framework instrumentors, and the loop that applies whichever are installed."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any

_log = logging.getLogger(__name__)

# framework name -> (module that must be importable, instrumentor "module:Class")
FRAMEWORKS: dict[str, tuple[str, str]] = {
    "openai-agents": ("agents", "agentel.instrumentation.openai_agents:OpenAIAgentsInstrumentor"),
    # Agentor 0.1 runs its own engine (0.0.x ran on the OpenAI Agents SDK and had no
    # agentor.engine, so that SDK's instrumentor covers it).
    "agentor": ("agentor.engine", "agentel.instrumentation.agentor:AgentorInstrumentor"),
}


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported; a submodule's missing package means no, not an
    error (``find_spec`` imports the parent package to look inside it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def _instrumentor(path: str) -> Any:
    module_name, class_name = path.split(":")
    return getattr(importlib.import_module(module_name), class_name)()


def instrument_installed(**kwargs: Any) -> list[str]:
    """Instrument each framework whose package is importable; skip the rest quietly."""
    done: list[str] = []
    for name, (module, path) in FRAMEWORKS.items():
        if not _installed(module):
            continue
        instrumentor = _instrumentor(path)
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(**kwargs)
        done.append(name)
    return done


def uninstrument_all() -> None:
    for module, path in FRAMEWORKS.values():
        if not _installed(module):
            continue
        instrumentor = _instrumentor(path)
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
