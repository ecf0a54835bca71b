"""``agentel ui``: a local, read-only trace viewer in the browser.

A small Starlette app (:mod:`agentel.ui.app`) renders server-side Jinja templates over the
store's query API; :mod:`agentel.ui.serve` runs it with uvicorn on 127.0.0.1. Everything the
pages need (templates, one script, one stylesheet) ships in the package: no build step.
"""

from __future__ import annotations

from agentel.ui.app import create_app

__all__ = ["create_app"]
