"""Which store a URL names, and what a model call costs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentel.settings import SettingError
from agentel.store import resolve_url, sqlite_path
from agentel.store.pricing import price_table


def test_the_argument_wins_over_the_environment_over_the_default(monkeypatch) -> None:
    monkeypatch.delenv("AGENTEL_DB", raising=False)
    assert resolve_url() == "sqlite:///agentel.db"
    monkeypatch.setenv("AGENTEL_DB", "postgresql://u@db/traces")
    assert resolve_url() == "postgresql://u@db/traces"
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"


def test_a_bare_path_means_sqlite() -> None:
    assert resolve_url("data/traces.db") == "sqlite:///data/traces.db"
    assert sqlite_path(resolve_url("data/traces.db")) == Path("data/traces.db")
    assert sqlite_path(resolve_url("/var/lib/agentel.db")) == Path("/var/lib/agentel.db")
    assert sqlite_path("sqlite:////abs/a.db") == Path("/abs/a.db")
    assert sqlite_path("postgresql://u@h/db") is None
    assert resolve_url("postgres://u@h/db") == "postgresql://u@h/db"


def test_an_unknown_scheme_names_the_setting_and_the_accepted_forms(monkeypatch) -> None:
    monkeypatch.setenv("AGENTEL_DB", "mysql://u@h/db")
    with pytest.raises(SettingError, match=r"AGENTEL_DB='mysql://u@h/db'.*postgresql://"):
        resolve_url()


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", 2.5 + 10),
        ("gpt-4o-2024-08-06", 2.5 + 10),  # a dated snapshot costs what its family costs
        ("gpt-4o-2024-05-13", 5 + 15),  # unless it was priced on its own
        ("openai/gpt-4.1-mini", 0.4 + 1.6),
        ("claude-3-5-sonnet-20241022", 3 + 15),
        ("claude-sonnet-4-0", 3 + 15),
        ("gpt-4o-mini-2024-07-18", 0.15 + 0.6),
    ],
)
def test_known_models_are_priced_per_million_tokens(model: str, expected: float) -> None:
    assert price_table().cost(model, 1_000_000, 1_000_000) == pytest.approx(expected)


@pytest.mark.parametrize("model", ["acme-llm", "gpt-4o-mini-turbo", "", None, "gpt-5-pro"])
def test_unknown_models_get_no_cost(model: str | None) -> None:
    assert price_table().cost(model, 1000, 1000) is None


def test_cached_and_cache_write_tokens_use_their_prices() -> None:
    table = price_table()
    # claude-sonnet-4: 1M in of which 500k cache reads and 100k cache writes, 0 out
    cost = table.cost("claude-sonnet-4", 1_000_000, 0, 500_000, 100_000)
    assert cost == pytest.approx(0.4 * 3 + 0.5 * 0.3 + 0.1 * 3.75)


def test_a_pricing_file_overrides_and_extends_the_table(tmp_path, monkeypatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps(
            {
                "as_of": "2030-01-01",
                "models": {
                    "acme-llm": {"input": 1, "output": 2},
                    "gpt-4o": {"input": 1, "output": 1},
                },
            }
        )
    )
    monkeypatch.setenv("AGENTEL_PRICING_FILE", str(prices))
    table = price_table()
    assert table.as_of == "2030-01-01"
    assert table.cost("acme-llm", 1_000_000, 1_000_000) == pytest.approx(3)
    assert table.cost("gpt-4o", 1_000_000, 0) == pytest.approx(1)
    assert table.cost("gpt-4.1", 1_000_000, 0) == pytest.approx(2)  # the rest stays


def test_a_broken_pricing_file_is_a_clear_error(tmp_path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"models": {"acme": {"input": "cheap"}}}))
    with pytest.raises(SettingError, match=r"AGENTEL_PRICING_FILE=.*numeric"):
        price_table(str(prices))
