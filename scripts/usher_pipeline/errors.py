"""Error types with messages that name the offending file, source or field."""

from __future__ import annotations


class UsherPipelineError(Exception):
    """Base class for errors the pipeline reports to users."""


class SourceFormatError(UsherPipelineError):
    """An upstream file does not have the expected layout (schema drift, HTML page, truncation)."""

    def __init__(self, source: str, location: str, problem: str) -> None:
        self.source = source
        self.location = location
        self.problem = problem
        super().__init__(f"source '{source}' ({location}): {problem}")


class SnapshotError(UsherPipelineError):
    """The embedded snapshot is missing a file or a file does not match its manifest."""


class MappingError(UsherPipelineError):
    """A gene identifier mapping failed in a way that must stop the run (e.g. an unmapped control)."""


class ValidationGateError(UsherPipelineError):
    """A validation metric failed its configured gate."""


class ConfigError(UsherPipelineError):
    """The configuration is valid against the schema but makes no sense (names the key and file)."""


class LibraryMismatchError(UsherPipelineError):
    """A job imported a usher_pipeline library other than the one of the workflow it runs."""
