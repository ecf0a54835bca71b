"""Putting the wrappers and the processor in place, and taking them out again exactly.

Everything ``install`` changes is recorded in the :class:`Installation`, so ``uninstall``
restores the SDK to the very objects it had: class methods, per-instance tool invokers,
``Model.__init_subclass__`` and the SDK's list of trace processors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentel.instrumentation.core.patching import Patches, import_optional
from agentel.instrumentation.core.telemetry import Telemetry

from . import wrappers
from .processor import OTelBridgeProcessor

_MODEL_METHODS = (
    ("get_response", wrappers.wrap_get_response),
    ("stream_response", wrappers.wrap_stream_response),
)
# (module, class or None for a module function, attribute, wrapper, required)
_PATCHES: tuple[tuple[str, str | None, str, Any, bool], ...] = (
    ("agents.run", "AgentRunner", "run", wrappers.wrap_run, True),
    ("agents.run", "AgentRunner", "run_streamed", wrappers.wrap_run_streamed, True),
    ("agents.tool", "FunctionTool", "__post_init__", wrappers.after_function_tool_init, True),
    ("agents.handoffs", "Handoff", "__init__", wrappers.after_handoff_init, True),
    ("agents.guardrail", "InputGuardrail", "run", wrappers.wrap_input_guardrail, True),
    ("agents.guardrail", "OutputGuardrail", "run", wrappers.wrap_output_guardrail, True),
    (
        "agents.tool_guardrails",
        "ToolInputGuardrail",
        "run",
        wrappers.wrap_tool_input_guardrail,
        False,
    ),
    (
        "agents.tool_guardrails",
        "ToolOutputGuardrail",
        "run",
        wrappers.wrap_tool_output_guardrail,
        False,
    ),
    # The OpenAI client's public method: the server's completion id and model, which the
    # SDK's Chat Completions model drops, are visible only in what it returns.
    (
        "openai.resources.chat.completions",
        "AsyncCompletions",
        "create",
        wrappers.wrap_chat_completions_create,
        False,
    ),
    # Internal, but the only place the real exception of a tool the SDK forgives is visible;
    # without it tool spans still turn ERROR, only the stack trace is missing.
    (
        "agents.tool",
        None,
        "maybe_invoke_function_tool_failure_error_function",
        wrappers.wrap_tool_failure,
        False,
    ),
)


@dataclass
class Installation:
    telemetry: Telemetry
    processor: OTelBridgeProcessor
    keep_openai_export: bool
    patches: Patches = field(default_factory=Patches)
    removed_default_processor: Any = None

    @classmethod
    def create(cls, **kwargs: Any) -> Installation:
        telemetry = Telemetry.create("agentel.instrumentation.openai_agents", **kwargs)
        return cls(
            telemetry, OTelBridgeProcessor(telemetry), bool(kwargs.get("keep_openai_export"))
        )

    # --- install ----------------------------------------------------------------------------
    def install(self) -> None:
        from agents.models.interface import Model

        wrappers.RUNTIME.telemetry = self.telemetry
        wrappers.RUNTIME.processor = self.processor
        for module_name, class_name, attribute, wrapper, required in _PATCHES:
            self.patches.wrap(module_name, class_name, attribute, wrapper, required)
        for module in ("agents.models.openai_responses", "agents.models.openai_chatcompletions"):
            import_optional(module)  # so their model classes are wrapped now, not at first use
        self.patches.wrap_class_tree(Model, _MODEL_METHODS)
        self._register_processor()

    def _register_processor(self) -> None:
        from agents.tracing import add_trace_processor, set_trace_processors

        current = _current_processors()
        if self.keep_openai_export or current is None:
            add_trace_processor(self.processor)
            return
        default = _default_processor()
        kept = [p for p in current if p is not default]
        if len(kept) != len(current):
            self.removed_default_processor = default
        set_trace_processors([*kept, self.processor])

    # --- uninstall --------------------------------------------------------------------------
    def uninstall(self) -> None:
        from agents.tracing import set_trace_processors

        wrappers.RUNTIME.telemetry = None
        wrappers.RUNTIME.processor = None
        self.patches.restore()
        wrappers.restore_instances()
        current = _current_processors() or []
        restored = [p for p in current if p is not self.processor]
        if self.removed_default_processor is not None:
            restored.insert(0, self.removed_default_processor)
        set_trace_processors(restored)


def _current_processors() -> list[Any] | None:
    """The SDK's registered processors; read from its provider, whose list is not public."""
    try:
        from agents.tracing import get_trace_provider

        return list(get_trace_provider()._multi_processor._processors)
    except Exception:
        return None


def _default_processor() -> Any:
    try:
        from agents.tracing.processors import default_processor

        return default_processor()
    except Exception:
        return None
