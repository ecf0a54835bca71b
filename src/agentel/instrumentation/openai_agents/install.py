"""Putting the wrappers and the processor in place, and taking them out again exactly.

Everything ``install`` changes is recorded in the :class:`Installation`, so ``uninstall``
restores the SDK to the very objects it had: class methods, per-instance tool invokers,
``Model.__init_subclass__`` and the SDK's list of trace processors.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import unwrap

from agentel.instrumentation.core.guest import log_once
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
    patched: list[tuple[Any, str]] = field(default_factory=list)
    model_classes: list[type] = field(default_factory=list)
    removed_default_processor: Any = None
    had_init_subclass: bool = False
    previous_init_subclass: Any = None

    @classmethod
    def create(cls, **kwargs: Any) -> Installation:
        telemetry = Telemetry.create("agentel.instrumentation.openai_agents", **kwargs)
        return cls(
            telemetry, OTelBridgeProcessor(telemetry), bool(kwargs.get("keep_openai_export"))
        )

    # --- install ----------------------------------------------------------------------------
    def install(self) -> None:
        wrappers.RUNTIME.telemetry = self.telemetry
        wrappers.RUNTIME.processor = self.processor
        for module_name, class_name, attribute, wrapper, required in _PATCHES:
            target = _resolve(module_name, class_name, attribute, required)
            if target is not None:
                wrapt.wrap_function_wrapper(target, attribute, wrapper)
                self.patched.append((target, attribute))
        self._wrap_models()
        self._register_processor()

    def _wrap_models(self) -> None:
        from agents.models.interface import Model

        for module in ("agents.models.openai_responses", "agents.models.openai_chatcompletions"):
            _import_optional(module)
        pending = list(Model.__subclasses__())
        while pending:
            model_class = pending.pop()
            pending.extend(model_class.__subclasses__())
            self.wrap_model_class(model_class)
        self.had_init_subclass = "__init_subclass__" in Model.__dict__
        self.previous_init_subclass = Model.__dict__.get("__init_subclass__")
        installation = self

        def init_subclass(model_class: type, **kwargs: Any) -> None:
            super(Model, model_class).__init_subclass__(**kwargs)
            installation.wrap_model_class(model_class)

        Model.__init_subclass__ = classmethod(init_subclass)  # type: ignore[assignment,method-assign]

    def wrap_model_class(self, model_class: type) -> None:
        """Wrap the model methods a class defines itself (inherited ones are already done)."""
        try:
            for method_name, wrapper in _MODEL_METHODS:
                method = model_class.__dict__.get(method_name)
                if method is None or getattr(method, "__isabstractmethod__", False):
                    continue
                if isinstance(method, wrapt.FunctionWrapper):
                    continue
                wrapt.wrap_function_wrapper(model_class, method_name, wrapper)
                self.patched.append((model_class, method_name))
        except Exception:
            log_once("model-class", "agentel: could not wrap model class %s", model_class)

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
        from agents.models.interface import Model
        from agents.tracing import set_trace_processors

        wrappers.RUNTIME.telemetry = None
        wrappers.RUNTIME.processor = None
        for target, attribute in reversed(self.patched):
            unwrap(target, attribute)
        self.patched.clear()
        if self.had_init_subclass:
            Model.__init_subclass__ = self.previous_init_subclass  # type: ignore[method-assign]
        elif "__init_subclass__" in Model.__dict__:
            del Model.__init_subclass__
        wrappers.restore_instances()
        current = _current_processors() or []
        restored = [p for p in current if p is not self.processor]
        if self.removed_default_processor is not None:
            restored.insert(0, self.removed_default_processor)
        set_trace_processors(restored)


def _import_optional(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except Exception:
        return None


def _resolve(module_name: str, class_name: str | None, attribute: str, required: bool) -> Any:
    module = _import_optional(module_name)
    target = module if class_name is None or module is None else getattr(module, class_name, None)
    if target is None or not hasattr(target, attribute):
        if required:
            log_once(
                f"missing-{module_name}.{class_name}.{attribute}",
                "agentel: %s.%s.%s not found; that part of the SDK is not traced",
                module_name,
                class_name,
                attribute,
            )
        return None
    return target


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
