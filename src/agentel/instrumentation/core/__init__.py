"""What every framework instrumentor needs, written once and free of any framework.

A framework folder (``openai_agents/``, ``agno/``, ``agentor/``) holds only the wrappers and
converters its framework alone needs; the mechanisms live here:

- :mod:`.guest`: the guest wrapper shape (our failures are logged once and swallowed; a span's
  context is current only while the framework's own code runs, also between stream items).
- :mod:`.nodes`: :class:`~.nodes.Node` (one OTel span we own), exception recording, token
  sums up the tree.
- :mod:`.telemetry`: :class:`~.telemetry.Telemetry` (tracer, the four GenAI metrics, content
  settings) with ``start_node`` / ``finish``.
- :mod:`.scope`: the run in progress, whose outcome the spans above a failure wait for.
- :mod:`.chat`: one model call's ``chat`` span, whatever the framework's response looks like.
- :mod:`.chat_messages`: Chat Completions style messages in the semconv content shapes.
- :mod:`.attributes`: attribute values several frameworks build alike (run metadata, a
  tool's result).
- :mod:`.patching`: wrapt patches on a framework's classes (model class trees included),
  recorded so that ``uninstrument()`` restores every one.

Only ``opentelemetry-api`` is imported here, never the SDK.
"""
