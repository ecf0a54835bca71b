"""The framework versions this instrumentor supports (read by ``opentelemetry-instrument``)."""

_instruments = ("openai-agents >= 0.21",)
