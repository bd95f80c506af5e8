"""The package's errors: one base class, so callers (the CLI, the page) can tell a problem the
user can fix, reported as one line, from a bug, which keeps its traceback."""

from __future__ import annotations


class PudongQAError(Exception):
    """A problem the user can fix; the message says what and, where it can, how."""


class CorpusError(PudongQAError, ValueError):
    """A corpus file cannot be used; the message names the file."""


class ModelError(PudongQAError, RuntimeError):
    """The embedding model could not be found or loaded."""


class IndexUnavailable(PudongQAError, RuntimeError):
    """The index is missing, damaged or cannot be built; the message says what to do."""


class QuestionFileError(PudongQAError, ValueError):
    """A whole question file is unusable (missing, wrong type, no question column…)."""


class EvalFileError(PudongQAError, ValueError):
    """An evaluation question file cannot be used; the message names the line."""


class LockTimeout(PudongQAError, RuntimeError):
    """Another process held the build lock for longer than we were willing to wait."""


class RebuildBusy(PudongQAError, RuntimeError):
    """A rebuild is already running in this process."""
