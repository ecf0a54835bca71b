"""The guest wrapper shape: instrumentation runs inside the user's call and must never be
noticed there.

Every wrapper builds its span cheaply, runs the original with the span's context current for
exactly that call, records the outcome and returns what the original returned. Anything of ours
that fails is logged once (at debug level, so a bad loop cannot flood the logs) and the
original carries on as if we were not there. Streams get the same treatment one item at a
time: the span's context is current while the framework produces the next item and never in
the consumer's code between items, so nothing the caller does is parented to our span.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, NamedTuple

from opentelemetry import context as otel_context

_log = logging.getLogger("agentel.instrumentation")
_logged_once: set[str] = set()


def log_once(key: str, message: str, *args: Any) -> None:
    """Log an internal failure at debug level once per kind, with its traceback."""
    if key in _logged_once:
        return
    _logged_once.add(key)
    _log.debug(message, *args, exc_info=True)


def error_type(exc: BaseException) -> str:
    """The fully qualified class name the semconv asks for in ``error.type``."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def safely(action: Callable[[], Any], key: str) -> None:
    """Run a piece of our own bookkeeping; its failure is logged once, never raised."""
    try:
        action()
    except Exception:
        log_once(key, "agentel: %s failed", key)


def guarded(prepare: Callable[..., Any], key: str, *args: Any) -> Any:
    """A wrapper's span lookup or start: our failure means "no span", never an error."""
    try:
        return prepare(*args)
    except Exception:
        log_once(key, "agentel: could not prepare a %s span", key)
        return None


def argument(args: tuple[Any, ...], kwargs: dict[str, Any], name: str, position: int) -> Any:
    """A wrapped call's argument, passed by keyword or by position (None when not passed)."""
    if name in kwargs:
        return kwargs[name]
    return args[position] if len(args) > position else None


ItemCallback = Callable[[Any], None]
EndCallback = Callable[[BaseException | None, bool], None]


def traced_iterator(
    context: otel_context.Context,
    iterator: Iterator[Any],
    on_item: ItemCallback | None,
    on_end: EndCallback,
    scoped: tuple[contextvars.ContextVar[Any], Any] | None = None,
) -> Iterator[Any]:
    """Yield ``iterator``'s items with ``context`` current only while it makes the next one.

    ``on_item`` sees each item; ``on_end(exc, completed)`` runs exactly once: when the
    stream is exhausted (``completed``), raises (``exc``), or is closed or dropped early by
    the consumer (neither). An early close also closes the framework's own iterator.
    ``scoped`` is a context variable of the instrumentor's own, set to its value for the same
    windows as ``context``.
    """
    completed = False
    error: BaseException | None = None
    try:
        while True:
            token = otel_context.attach(context)
            scoped_token = scoped[0].set(scoped[1]) if scoped is not None else None
            try:
                item = next(iterator)
            except StopIteration:
                completed = True
                return
            except BaseException as exc:
                error = exc
                raise
            finally:
                if scoped_token is not None:
                    scoped[0].reset(scoped_token)  # type: ignore[index]
                otel_context.detach(token)
            if on_item is not None:
                safely(lambda item=item: on_item(item), "stream-item")
            yield item
    finally:
        safely(lambda: on_end(error, completed), "stream-end")
        if not completed and error is None:
            _close(iterator)


async def traced_async_iterator(
    context: otel_context.Context | None,
    iterator: AsyncIterator[Any],
    on_item: ItemCallback | None,
    on_end: EndCallback,
    scoped: tuple[contextvars.ContextVar[Any], Any] | None = None,
) -> AsyncIterator[Any]:
    """The async twin of :func:`traced_iterator`, with the same guarantees. A ``context`` of
    None holds only ``scoped`` (a run the framework was told not to trace still tells the
    calls inside it so)."""
    completed = False
    error: BaseException | None = None
    try:
        while True:
            token = otel_context.attach(context) if context is not None else None
            scoped_token = scoped[0].set(scoped[1]) if scoped is not None else None
            try:
                item = await iterator.__anext__()
            except StopAsyncIteration:
                completed = True
                return
            except BaseException as exc:
                error = exc
                raise
            finally:
                if scoped_token is not None:
                    scoped[0].reset(scoped_token)  # type: ignore[index]
                if token is not None:
                    otel_context.detach(token)
            if on_item is not None:
                safely(lambda item=item: on_item(item), "stream-item")
            yield item
    finally:
        safely(lambda: on_end(error, completed), "stream-end")
        if not completed and error is None:
            await _aclose(iterator)


class StreamPlan(NamedTuple):
    """How to trace one stream: the arguments of :func:`traced_async_iterator`."""

    context: otel_context.Context | None
    on_item: ItemCallback | None
    on_end: EndCallback
    scoped: tuple[contextvars.ContextVar[Any], Any] | None = None


async def traced_when_started(
    iterator: AsyncIterator[Any], begin: Callable[[], StreamPlan | None]
) -> AsyncIterator[Any]:
    """For a framework call that returns an async generator: ``begin`` runs when the consumer
    asks for the first item (where the work starts, so a stream never iterated leaves no
    open span), then the items pass through :func:`traced_async_iterator`. ``begin``
    returning None (or failing) means untraced; an early close still closes ``iterator``."""
    plan = guarded(begin, "stream")
    stream = (
        iterator
        if plan is None
        else traced_async_iterator(plan.context, iterator, plan.on_item, plan.on_end, plan.scoped)
    )
    try:
        async for item in stream:
            yield item
    finally:
        await _aclose(stream)


def _close(iterator: Any) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        safely(close, "stream-close")


async def _aclose(iterator: Any) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:
        log_once("stream-close", "agentel: closing an abandoned stream failed")


ErrorCallback = Callable[[BaseException], None]


def call_within(
    context: otel_context.Context,
    on_error: ErrorCallback,
    wrapped: Callable[..., Any],
    args: Any,
    kwargs: Any,
    scoped: tuple[contextvars.ContextVar[Any], Any] | None = None,
) -> Any:
    """``wrapped(*args, **kwargs)`` with ``context`` current for exactly that call; an
    exception goes to ``on_error`` (which must not raise) on its way to the caller.
    ``scoped`` is set for the same window, as in :func:`traced_iterator`."""
    token = otel_context.attach(context)
    scoped_token = scoped[0].set(scoped[1]) if scoped is not None else None
    try:
        return wrapped(*args, **kwargs)
    except BaseException as exc:
        on_error(exc)
        raise
    finally:
        if scoped_token is not None:
            scoped[0].reset(scoped_token)  # type: ignore[index]
        otel_context.detach(token)


async def call_within_async(
    context: otel_context.Context,
    on_error: ErrorCallback,
    wrapped: Callable[..., Any],
    args: Any,
    kwargs: Any,
    scoped: tuple[contextvars.ContextVar[Any], Any] | None = None,
) -> Any:
    """The awaited twin of :func:`call_within`."""
    token = otel_context.attach(context)
    scoped_token = scoped[0].set(scoped[1]) if scoped is not None else None
    try:
        return await wrapped(*args, **kwargs)
    except BaseException as exc:
        on_error(exc)
        raise
    finally:
        if scoped_token is not None:
            scoped[0].reset(scoped_token)  # type: ignore[index]
        otel_context.detach(token)
