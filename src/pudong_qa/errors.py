"""The package's errors: one base class, so callers (the CLI, the page, the API) can tell a
problem the user can fix, reported as one line, from a bug, which keeps its traceback.

A problem travels as data: a ``code`` from ``messages.MESSAGES``, its parameters, and the
``subject`` it is about (a file, a field). ``str()`` is the English line for the command line and
logs; ``say("zh")`` is the sentence for the page. Nothing downstream parses the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .messages import say


@dataclass(frozen=True)
class Problem:
    """A reason something cannot be done, as data (a question that cannot be asked, a file that
    cannot be read); ``str()`` is its English sentence."""

    code: str
    params: dict = field(default_factory=dict, compare=False, hash=False)
    subject: str = ""  # what it is about (a file name), put before the sentence

    def say(self, lang: str = "en") -> str:
        text = say(self.code, self.params, lang)
        return f"{self.subject}: {text}" if self.subject else text

    def reason(self, lang: str = "en") -> str:
        """The sentence without its subject."""
        return say(self.code, self.params, lang)

    def as_param(self) -> dict:
        """This problem as another's parameter (plain data, said in the other's language)."""
        return {"code": self.code, "params": self.params}

    def __str__(self) -> str:
        return self.say("en")


class PudongQAError(Exception):
    """A problem the user can fix. Raised with a ``code`` (and its parameters) it carries a
    ``Problem``; raised with a plain message (internal checks, remedies for the command line)
    it is that message in English only."""

    def __init__(self, message: str = "", *, code: str = "", subject: str = "", **params) -> None:
        self.problem = Problem(code, params, subject) if code else None
        super().__init__(message or str(self.problem or ""))

    @property
    def code(self) -> str:
        return self.problem.code if self.problem else ""

    def say(self, lang: str = "en") -> str:
        """The sentence for people in ``lang``; a message-only error stays as it was written."""
        return self.problem.say(lang) if self.problem else str(self)

    def reason(self, lang: str = "en") -> str:
        """The sentence without its subject (the file name the caller shows anyway)."""
        return self.problem.reason(lang) if self.problem else str(self)


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
