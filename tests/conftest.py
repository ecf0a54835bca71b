"""Shared pytest fixtures.

Kept generic on purpose: several test modules share this file, so only fixtures every module
may want belong here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from celesto_fake import FakeCelesto
from fake_openai import FakeOpenAI
from otlp_receiver import OTLPReceiver

pytest_plugins = ["agent_fixtures", "agentor_fixtures"]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fresh fake OpenAI server per test (start + stop take a few ms), so no test sees
    another test's requests or scripted replies."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    """A loopback OTLP receiver (HTTP and gRPC) that decodes what it is sent."""
    with OTLPReceiver() as running:
        yield running


@pytest.fixture
def celesto() -> Iterator[FakeCelesto]:
    """A loopback Celesto ingest endpoint that keeps every post."""
    with FakeCelesto() as fake:
        yield fake
