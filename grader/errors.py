"""Errors a user can cause and fix. The command line prints their message, never a traceback."""


class GraderError(Exception):
    """A problem with the user's input or environment, explained in the message."""

    exit_code = 2


class GraderWarning(UserWarning):
    """Something the user should know that does not stop the command; the command line
    prints it as ``grader: warning: ...``."""


class ConfigError(GraderError):
    """A malformed or missing assignment configuration."""


class SubmissionError(GraderError):
    """A submission that cannot be graded at all (unreadable archive, missing folder)."""


class InfrastructureError(GraderError):
    """The grader could not run (sandbox or Docker engine unavailable); not the student's fault."""

    exit_code = 3


class EngineUnavailable(InfrastructureError):
    """The Docker engine does not answer (down, restarting, unreachable): a batch waits for it
    for a while, then stops; the student is graded on a later run."""


class BatchStopped(GraderError):
    """A batch stopped before grading everyone (Ctrl-C, the engine gone); what was graded is
    recorded and in the gradebook. ``summary`` is the summary of what is there."""

    def __init__(self, message: str, *, exit_code: int, summary: dict | None = None):
        super().__init__(message)
        self.exit_code, self.summary = exit_code, summary


class ResultsNotWritten(GraderError):
    """Grading finished but its results could not be written; ``results`` holds them."""

    def __init__(self, message: str, *, results: dict):
        super().__init__(message)
        self.results = results


class UnconfinedSandbox(InfrastructureError):
    """``grade`` or ``batch`` with the local backend on a machine where it cannot confine
    file access (plain mode: not root), and the TA did not pass ``--allow-unconfined``. An
    environment problem (exit 3, as a missing engine): the same command grades as root or with
    ``--backend docker``."""
