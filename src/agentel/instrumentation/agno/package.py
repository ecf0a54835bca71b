"""The framework versions this instrumentor supports (read by ``opentelemetry-instrument``)."""

_instruments = ("agno >= 3.0, < 4",)
