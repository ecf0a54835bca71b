"""Typed settings read from arguments first, then the environment.

Every environment variable agentel reads is named here and nowhere else, so a user can find
them all in one file and every bad value fails the same way: one error (or, for the
standard OTel content switch, one warning) that names the setting and what it accepts.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

_log = logging.getLogger(__name__)

ENV_CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_CONTENT_MAX_LENGTH = "AGENTEL_CONTENT_MAX_LENGTH"
ENV_CAPTURE_BLOBS = "AGENTEL_CAPTURE_BLOBS"
ENV_DB = "AGENTEL_DB"
ENV_PRICING_FILE = "AGENTEL_PRICING_FILE"

DEFAULT_CONTENT_MAX_LENGTH = 64 * 1024
DEFAULT_DB = "sqlite:///agentel.db"


class SettingError(ValueError):
    """A setting has a value agentel cannot use; the message names the setting."""


class ContentCapture(enum.Enum):
    """Where message content goes, as the OTel GenAI instrumentations define it."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        return self in (ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def as_event(self) -> bool:
        return self in (ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def enabled(self) -> bool:
        return self is not ContentCapture.NO_CONTENT


_CAPTURE_ALIASES = {"TRUE": "SPAN_ONLY", "1": "SPAN_ONLY", "FALSE": "NO_CONTENT", "0": "NO_CONTENT"}
_TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE_WORDS = {"0", "false", "no", "off", ""}


def parse_content_capture(raw: str | bool | ContentCapture | None) -> ContentCapture:
    """Read the content switch leniently: an unknown value warns and keeps content off.

    The variable is shared with other OTel GenAI instrumentations, so a value meant for one
    of them must never stop the user's app; it only earns a warning.
    """
    if isinstance(raw, ContentCapture):
        return raw
    if raw is None:
        return ContentCapture.NO_CONTENT
    if isinstance(raw, bool):
        return ContentCapture.SPAN_ONLY if raw else ContentCapture.NO_CONTENT
    word = raw.strip().upper()
    word = _CAPTURE_ALIASES.get(word, word)
    if not word:
        return ContentCapture.NO_CONTENT
    try:
        return ContentCapture(word)
    except ValueError:
        accepted = ", ".join(m.value for m in ContentCapture)
        _log.warning(
            "%s=%r is not understood; content capture stays off. Accepted values: %s "
            "(case-insensitive), or true/1 and false/0.",
            ENV_CAPTURE_CONTENT,
            raw,
            accepted,
        )
        return ContentCapture.NO_CONTENT


def parse_bool(name: str, raw: str | bool) -> bool:
    """A yes/no setting; anything else is an error naming the setting."""
    if isinstance(raw, bool):
        return raw
    word = raw.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise SettingError(f"{name}={raw!r} is not a yes/no value; use one of true, false, 1, 0.")


def parse_positive_int(name: str, raw: str | int) -> int:
    """A whole number above zero; anything else is an error naming the setting."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise SettingError(f"{name}={raw!r} is not a whole number; use a number above 0.") from None
    if value <= 0:
        raise SettingError(f"{name}={raw!r} must be above 0.")
    return value


@dataclass(frozen=True)
class ContentSettings:
    """What the instrumentors may record of message content, and how much of it."""

    capture: ContentCapture = ContentCapture.NO_CONTENT
    max_length: int = DEFAULT_CONTENT_MAX_LENGTH
    capture_blobs: bool = False

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        capture: str | bool | ContentCapture | None = None,
        max_length: int | None = None,
        capture_blobs: bool | None = None,
    ) -> ContentSettings:
        """Arguments win over the environment; the environment over the defaults."""
        env = os.environ if env is None else env
        if capture is None:
            capture = env.get(ENV_CAPTURE_CONTENT)
        if max_length is None:
            raw_len = env.get(ENV_CONTENT_MAX_LENGTH)
            max_length = (
                DEFAULT_CONTENT_MAX_LENGTH
                if raw_len is None
                else parse_positive_int(ENV_CONTENT_MAX_LENGTH, raw_len)
            )
        else:
            max_length = parse_positive_int("content_max_length", max_length)
        if capture_blobs is None:
            capture_blobs = parse_bool(ENV_CAPTURE_BLOBS, env.get(ENV_CAPTURE_BLOBS, ""))
        return cls(parse_content_capture(capture), max_length, capture_blobs)
