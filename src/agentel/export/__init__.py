"""Getting spans out of the process: the pipeline that ``agentel.setup()`` builds or joins,
the exporters it can name, the OTLP backend presets and the export-time dialects."""
