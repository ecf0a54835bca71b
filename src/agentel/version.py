"""The one place the version lives, read by packaging and by ``agentel.__version__``."""

__version__ = "0.1.0"
