"""The exceptions execintel raises, one tree rooted at :class:`ExecintelError`.

::

    ExecintelError            anything execintel reports to a user
    ├── ConfigError           the manifest or settings are invalid (holds every Problem)
    ├── SourceError           a data source cannot be read at all
    ├── RenderError           a report could not be rendered
    ├── DeliveryError         a report could not be delivered
    ├── StoreError            the audit store failed
    └── AuthError             a login or session is not valid

Bad rows inside a readable source are not exceptions: connectors return them
as :class:`Problem` values so a run can report all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, with the place it was found."""

    file: str
    message: str
    line: int | None = None
    key: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        place = self.file if self.line is None else f"{self.file}:{self.line}"
        key = f" {self.key}:" if self.key else ""
        tag = "" if self.severity == "error" else " warning:"
        return f"{place}:{tag}{key} {self.message}"


class ExecintelError(Exception):
    """Base of every error execintel reports to a user."""


class ConfigError(ExecintelError):
    """The manifest, its sources or the settings are invalid."""

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(file="<config>", message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = problems
        super().__init__("\n".join(str(p) for p in problems))


class SourceError(ExecintelError):
    """A data source cannot be read at all (missing file, unreachable table)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


class RenderError(ExecintelError):
    """A report document could not be rendered."""


class DeliveryError(ExecintelError):
    """A report could not be delivered."""


class StoreError(ExecintelError):
    """The audit store failed."""


class AuthError(ExecintelError):
    """A login link or session is not valid."""
