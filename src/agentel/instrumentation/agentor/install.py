"""Putting the wrappers in place, and taking them out again exactly."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from agentel import settings as s
from agentel.instrumentation.core.patching import Patches
from agentel.instrumentation.core.telemetry import Telemetry

from . import model_call, run, tools
from .runtime import RUNTIME

_log = logging.getLogger(__name__)
_MODEL_METHODS = (("complete", model_call.wrap_complete), ("stream", model_call.wrap_stream))
# (module, class, attribute, wrapper)
_PATCHES: tuple[tuple[str, str, str, Any], ...] = (
    ("agentor.engine.loop", "AgentLoop", "astream", run.wrap_astream),
    ("agentor.engine.tools", "Tool", "call", tools.wrap_tool_call),
    ("agentor.engine.tracing", "CelestoTracer", "export", run.wrap_celesto_export),
)
_MODEL_CLASSES = ("ChatCompletionsModel", "LiteLLMModel")


@dataclass
class Installation:
    telemetry: Telemetry
    keep_agentor_export: bool
    patches: Patches = field(default_factory=Patches)

    @classmethod
    def create(cls, **kwargs: Any) -> Installation:
        keep = kwargs.get("keep_agentor_export")
        telemetry = Telemetry.create("agentel.instrumentation.agentor", **kwargs)
        return cls(telemetry, bool(_keep_from_env() if keep is None else keep))

    def install(self) -> None:
        RUNTIME.telemetry = self.telemetry
        RUNTIME.keep_agentor_export = self.keep_agentor_export
        for module_name, class_name, attribute, wrapper in _PATCHES:
            self.patches.wrap(module_name, class_name, attribute, wrapper)
        for class_name in _MODEL_CLASSES:
            for method, wrapper in _MODEL_METHODS:
                self.patches.wrap("agentor.engine.models", class_name, method, wrapper)

    def uninstall(self) -> None:
        RUNTIME.telemetry = None
        RUNTIME.keep_agentor_export = False
        self.patches.restore()


def _keep_from_env() -> bool:
    """``AGENTEL_KEEP_AGENTOR_EXPORT``; a bad value is a warning naming it, and the default."""
    raw = os.environ.get(s.ENV_KEEP_AGENTOR_EXPORT, "").strip()
    try:
        return bool(raw) and s.parse_bool(s.ENV_KEEP_AGENTOR_EXPORT, raw)
    except s.SettingError as error:
        _log.warning("agentel: %s Using false.", error)
        return False
