"""Shared pytest fixtures.

Kept generic on purpose: several test modules share this file, so only fixtures every module
may want belong here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_openai import FakeOpenAI

pytest_plugins = ["agent_fixtures"]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fresh fake OpenAI server per test (start + stop take a few ms), so no test sees
    another test's requests or scripted replies."""
    with FakeOpenAI() as fake:
        yield fake
