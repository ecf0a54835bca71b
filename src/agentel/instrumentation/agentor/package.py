"""The framework versions this instrumentor supports (read by ``opentelemetry-instrument``).

Agentor 0.0.x ran on the OpenAI Agents SDK (traced by that SDK's instrumentor); 0.1 brought
its own engine, which is what this instrumentor wraps.
"""

_instruments = ("agentor >= 0.1, < 0.2",)
