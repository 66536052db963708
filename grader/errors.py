"""Errors a user can cause and fix. The command line prints their message, never a traceback."""


class GraderError(Exception):
    """A problem with the user's input or environment, explained in the message."""

    exit_code = 2


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
