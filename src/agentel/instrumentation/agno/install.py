"""Putting the wrappers in place on Agno's public call points, and taking them out exactly.

Wrapped: ``Agent`` and ``Team`` ``run/arun/continue_run/acontinue_run``, ``Workflow.run/arun``,
the ``execute*`` methods of each workflow step class, ``FunctionCall.execute/aexecute``, and
each model class's ``invoke/ainvoke/invoke_stream/ainvoke_stream`` (one request each) plus
its response parsers, which are the only place the provider's raw response (id, model,
finish reason) is still visible. Never Agno's private run loop (``agno.agent._run``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from agentel.instrumentation.core.patching import Patches, import_optional
from agentel.instrumentation.core.telemetry import Telemetry

from . import model_call, runs, tools

_RUN_METHODS = (
    ("run", runs.wrap_run),
    ("arun", runs.wrap_arun),
    ("continue_run", runs.wrap_run),
    ("acontinue_run", runs.wrap_arun),
)
_STEP_CLASSES = (
    ("agno.workflow.step", "Step"),
    ("agno.workflow.steps", "Steps"),
    ("agno.workflow.parallel", "Parallel"),
    ("agno.workflow.loop", "Loop"),
    ("agno.workflow.condition", "Condition"),
    ("agno.workflow.router", "Router"),
)
_STEP_METHODS = (
    ("execute", runs.wrap_step),
    ("execute_stream", runs.wrap_step),
    ("aexecute", runs.wrap_astep),
    ("aexecute_stream", runs.wrap_astep),
)
_MODEL_METHODS = (
    ("invoke", model_call.wrap_invoke),
    ("ainvoke", model_call.wrap_ainvoke),
    ("invoke_stream", model_call.wrap_invoke_stream),
    ("ainvoke_stream", model_call.wrap_ainvoke_stream),
    ("_parse_provider_response", model_call.peek_response),
    ("_parse_provider_response_delta", model_call.peek_response),
)


@dataclass
class Installation:
    telemetry: Telemetry
    patches: Patches = field(default_factory=Patches)
    loggers: list[logging.Logger] = field(default_factory=list)

    @classmethod
    def create(cls, **kwargs: Any) -> Installation:
        return cls(Telemetry.create("agentel.instrumentation.agno", **kwargs))

    def install(self) -> None:
        runs.RUNTIME.telemetry = self.telemetry
        patches = self.patches
        for module_name, class_name in (
            ("agno.agent.agent", "Agent"),
            ("agno.team.team", "Team"),
        ):
            for method, wrapper in _RUN_METHODS:
                patches.wrap(module_name, class_name, method, wrapper)
        patches.wrap("agno.workflow.workflow", "Workflow", "run", runs.wrap_run)
        patches.wrap("agno.workflow.workflow", "Workflow", "arun", runs.wrap_arun)
        for module_name, class_name in _STEP_CLASSES:
            for method, wrapper in _STEP_METHODS:
                patches.wrap(module_name, class_name, method, wrapper, required=False)
        patches.wrap("agno.tools.function", "FunctionCall", "execute", tools.wrap_execute)
        patches.wrap("agno.tools.function", "FunctionCall", "aexecute", tools.wrap_aexecute)
        base = import_optional("agno.models.base")
        if base is not None:
            for module_name in ("agno.models.openai.chat", "agno.models.openai.responses"):
                import_optional(module_name)
            patches.wrap_class_tree(base.Model, _MODEL_METHODS)
        self._listen_to_agno_logs()

    def _listen_to_agno_logs(self) -> None:
        """Agno logs a failing tool's exception, with its traceback, before turning it into a
        failure result; a filter on its loggers (which never drops a record) keeps it."""
        log = import_optional("agno.utils.log")
        for name in ("agent_logger", "team_logger", "workflow_logger"):
            logger = getattr(log, name, None)
            if isinstance(logger, logging.Logger) and logger not in self.loggers:
                logger.addFilter(tools.TOOL_EXCEPTIONS)
                self.loggers.append(logger)

    def uninstall(self) -> None:
        runs.RUNTIME.telemetry = None
        self.patches.restore()
        for logger in self.loggers:
            logger.removeFilter(tools.TOOL_EXCEPTIONS)
        self.loggers.clear()
