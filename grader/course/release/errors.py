"""The one exception the release pipeline raises for problems in an assignment's sources."""

from __future__ import annotations

from pathlib import Path

from grader.errors import GraderError


class ReleaseError(GraderError):
    """A problem in ``solutions/<id>/`` that stops the release.

    A :class:`grader.errors.GraderError`, so the command line prints the message, not a traceback.

    The message names the file (and the line, where there is one), e.g.
    ``solutions/hw1/graph.py:12: ### BEGIN SOLUTION inside the region opened at line 8``.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else Path(path)
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
