"""Image-search engines: one module per engine (openverse, wikimedia, flickr, brave, serpapi, ddgs)
sharing one base (``engine``), a registry, finished-page records for resuming, and the collector."""

from .collector import SearchCollector, SearchOptions
from .engine import Engine, EngineConfig, EngineError, Filters, Page, Result
from .registry import DEFAULT_ENGINE, ENGINES
from .summary import SearchSummary

__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "EngineConfig", "EngineError", "Filters", "Page",
           "Result", "SearchCollector", "SearchOptions", "SearchSummary"]
