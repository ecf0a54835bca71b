"""Putting wrapt wrappers on a framework's classes, and taking every one of them off again.

An instrumentor's ``uninstrument()`` must leave the framework exactly as it found it, so each
patch goes through a :class:`Patches` record: ``restore()`` unwraps in reverse order and puts
back any hook it replaced. Model classes are the one open-ended set: the base class's
subclasses known now are wrapped at once, and ``__init_subclass__`` wraps those defined later.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import unwrap

from .guest import log_once

Wrapper = Callable[..., Any]


def import_optional(module_name: str) -> Any:
    """The module, or None when it (or a dependency of it) cannot be imported."""
    try:
        return importlib.import_module(module_name)
    except Exception:
        return None


@dataclass
class Patches:
    """Every wrapper one instrumentor put in place, so that all can be undone exactly."""

    patched: list[tuple[Any, str]] = field(default_factory=list)
    hooks: list[tuple[type, bool, Any]] = field(default_factory=list)

    def wrap(
        self,
        module_name: str,
        class_name: str | None,
        attribute: str,
        wrapper: Wrapper,
        required: bool = True,
    ) -> bool:
        """Wrap ``module.class.attribute`` (or a module function); a missing one is logged
        once when ``required`` and skipped, so a framework release that moved it still runs."""
        module = import_optional(module_name)
        target = module
        if class_name is not None and module is not None:
            target = getattr(module, class_name, None)
        if target is None or not hasattr(target, attribute):
            if required:
                log_once(
                    f"missing-{module_name}.{class_name}.{attribute}",
                    "agentel: %s.%s.%s not found; that part of the framework is not traced",
                    module_name,
                    class_name,
                    attribute,
                )
            return False
        wrapt.wrap_function_wrapper(target, attribute, wrapper)
        self.patched.append((target, attribute))
        return True

    def wrap_own_methods(self, cls: type, methods: Iterable[tuple[str, Wrapper]]) -> None:
        """Wrap the methods ``cls`` defines itself; inherited ones are wrapped where defined,
        abstract ones are skipped."""
        try:
            for name, wrapper in methods:
                method = cls.__dict__.get(name)
                if method is None or getattr(method, "__isabstractmethod__", False):
                    continue
                if isinstance(method, wrapt.FunctionWrapper):
                    continue
                wrapt.wrap_function_wrapper(cls, name, wrapper)
                self.patched.append((cls, name))
        except Exception:
            log_once(f"wrap-class-{cls!r}", "agentel: could not wrap class %s", cls)

    def wrap_class_tree(self, base: type, methods: tuple[tuple[str, Wrapper], ...]) -> None:
        """Wrap ``methods`` on ``base`` and every subclass, those defined later included."""
        pending = [base]
        while pending:
            cls = pending.pop()
            pending.extend(cls.__subclasses__())
            self.wrap_own_methods(cls, methods)
        had_hook = "__init_subclass__" in base.__dict__
        previous = base.__dict__.get("__init_subclass__")
        patches = self

        def init_subclass(cls: type, **kwargs: Any) -> None:
            super(base, cls).__init_subclass__(**kwargs)
            patches.wrap_own_methods(cls, methods)

        base.__init_subclass__ = classmethod(init_subclass)  # type: ignore[assignment,method-assign]
        self.hooks.append((base, had_hook, previous))

    def restore(self) -> None:
        """Unwrap everything, newest first, and put back the subclass hooks."""
        for target, attribute in reversed(self.patched):
            unwrap(target, attribute)
        self.patched.clear()
        for base, had_hook, previous in reversed(self.hooks):
            if had_hook:
                base.__init_subclass__ = previous  # type: ignore[method-assign]
            elif "__init_subclass__" in base.__dict__:
                del base.__init_subclass__
        self.hooks.clear()
