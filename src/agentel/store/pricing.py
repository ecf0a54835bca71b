"""What a model call cost, from a dated price table bundled with agentel.

Prices are USD per million tokens for input, cached input (cache reads), cache writes and
output. A user overrides or extends the table with a JSON file of the same shape named by
``AGENTEL_PRICING_FILE``. A model that is not in the table gets no cost at all: a missing
number is honest, a guessed one is not. Dated snapshots (``gpt-4o-2024-08-06``,
``claude-3-5-sonnet-20241022``) fall back to their family's price unless the table lists the
snapshot itself, which it does where a snapshot was priced differently.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from agentel.settings import ENV_PRICING_FILE, SettingError

_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")
_PER_TOKEN = 1e-6


@dataclass(frozen=True)
class ModelPrice:
    """USD per 1M tokens; cache prices default to the input price when a table omits them."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None


class PriceTable:
    """Model name -> price, with the name clean-up that provider ids need."""

    def __init__(self, models: Mapping[str, ModelPrice], aliases: Mapping[str, str], as_of: str):
        self.models = dict(models)
        self.aliases = dict(aliases)
        self.as_of = as_of
        self._found: dict[str, ModelPrice | None] = {}  # model names seen -> price

    def lookup(self, model: str | None) -> ModelPrice | None:
        """The price of ``model``, or None when the table does not know it."""
        if not model:
            return None
        if model not in self._found:
            self._found[model] = self._search(model)
        return self._found[model]

    def _search(self, model: str) -> ModelPrice | None:
        name = model.strip().lower().rsplit("/", 1)[-1]
        for candidate in (name, name.removesuffix("-latest"), _DATE_SUFFIX.sub("", name)):
            candidate = self.aliases.get(candidate, candidate)
            if candidate in self.models:
                return self.models[candidate]
        return None

    def cost(
        self,
        model: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
    ) -> float | None:
        """USD for one call; ``input_tokens`` includes cached ones, as the semconv says."""
        price = self.lookup(model)
        if price is None or (input_tokens is None and output_tokens is None):
            return None
        cache_read = cache_read_tokens or 0
        cache_write = cache_write_tokens or 0
        fresh = max((input_tokens or 0) - cache_read - cache_write, 0)
        total = (
            fresh * price.input
            + cache_read * _or(price.cached_input, price.input)
            + cache_write * _or(price.cache_write, price.input)
            + (output_tokens or 0) * price.output
        )
        return total * _PER_TOKEN


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _parse(document: Mapping[str, Any], source: str) -> PriceTable:
    try:
        models = {
            name.lower(): ModelPrice(
                input=float(entry["input"]),
                output=float(entry["output"]),
                cached_input=_optional_float(entry.get("cached_input")),
                cache_write=_optional_float(entry.get("cache_write")),
            )
            for name, entry in document.get("models", {}).items()
        }
        aliases = {k.lower(): v.lower() for k, v in document.get("aliases", {}).items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SettingError(
            f'{source} is not a price table: each entry of "models" needs numeric "input" '
            f'and "output" (USD per 1M tokens), optionally "cached_input" and '
            f'"cache_write" ({exc})'
        ) from None
    return PriceTable(models, aliases, str(document.get("as_of", "unknown")))


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def bundled_table() -> PriceTable:
    text = resources.files("agentel.store").joinpath("pricing.json").read_text("utf-8")
    return _parse(json.loads(text), "the bundled pricing.json")


@lru_cache(maxsize=8)
def _load(override_path: str | None) -> PriceTable:
    table = bundled_table()
    if not override_path:
        return table
    source = f"{ENV_PRICING_FILE}={override_path}"
    try:
        document = json.loads(Path(override_path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingError(f"{source} cannot be read as JSON: {exc}") from None
    override = _parse(document, source)
    return PriceTable(
        {**table.models, **override.models},
        {**table.aliases, **override.aliases},
        override.as_of if "as_of" in document else table.as_of,
    )


def price_table(override_path: str | None = None) -> PriceTable:
    """The bundled table, merged with the user's file (argument, else the environment)."""
    return _load(override_path or os.environ.get(ENV_PRICING_FILE) or None)
