"""One way to hide credentials in anything agentel prints: URLs and error texts. (Header
values, which carry keys, are never printed: ``agentel doctor`` hides such variables whole.)

A password may hold any character, ``@`` and ``/`` included, whether or not the user
percent-encoded it, so the user-info part of a URL is taken to end at its *last* ``@``
(before any query or fragment): masking a little too much is safe, too little is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

MASK = "***"
_SECRET_PARAMS = re.compile(
    r"([?&;](?:[^=&;#\s]*(?:pass|pwd|secret|token|key|auth|sig)[^=&;#\s]*)=)([^&;#\s]*)",
    re.IGNORECASE,
)
# scheme://userinfo@ inside free text; the greedy user-info runs to the last @ before a blank
_URL_IN_TEXT = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s'\"<>]*)@")


def mask_url(url: str) -> str:
    """``url`` with its password (and secret-looking query values) replaced by ``***``.

    The user name stays, so ``postgresql://app:***@db/prod`` still says who connects.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _SECRET_PARAMS.sub(rf"\1{MASK}", url)
    head, query_sep, tail = _split_query(rest)
    if "@" in head:
        userinfo, _, host = head.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        head = f"{user}:{MASK}@{host}" if colon else f"{userinfo}@{host}"
    masked = f"{scheme}://{head}{query_sep}{tail}"
    return _SECRET_PARAMS.sub(rf"\1{MASK}", masked)


def _split_query(rest: str) -> tuple[str, str, str]:
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=-1)
    if cut < 0:
        return rest, "", ""
    return rest[:cut], rest[cut], rest[cut + 1 :]


def url_secrets(url: str) -> list[str]:
    """The password of ``url`` as written and percent-decoded, and what comes before and
    after each ``@``, ``/`` or ``:`` in it, which a parser splitting there might echo on its
    own (a driver error may quote the "host" it found after the first ``@``)."""
    _, sep, rest = url.partition("://")
    head = _split_query(rest)[0] if sep else ""
    if "@" not in head:
        return []
    password = head.rpartition("@")[0].partition(":")[2]
    if not password:
        return []
    found = {password, unquote(password)}
    for value in list(found):
        for cut in (m.start() for m in re.finditer(r"[@/:]", value)):
            found.update((value[:cut], value[cut + 1 :]))
    return sorted((piece for piece in found if len(piece) >= 3), key=len, reverse=True)


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Free text (an error message, a log line) with every URL's credentials masked and every
    known secret replaced, longest first."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    text = _URL_IN_TEXT.sub(_mask_match, text)
    return _SECRET_PARAMS.sub(rf"\1{MASK}", text)


def _mask_match(match: re.Match[str]) -> str:
    userinfo = match.group(2)
    user, colon, _ = userinfo.partition(":")
    return f"{match.group(1)}{user}:{MASK}@" if colon else match.group(0)
