"""What a batch tells the TA while it runs, on stderr.

On a terminal: a progress bar (tqdm), with notices printed above it. Anywhere else (a log
file, CI, ``2> log``): plain lines, never ``\\r``: one at least every ``every`` seconds and at
each tenth of the class, and a last one at the end. Notices (Ctrl-C, a lost engine) are
printed in both cases, also when ``enabled`` is false.
"""
from __future__ import annotations

import sys
import time

from grader.results.safe_text import visible


def describe(score: float, max_score: float, status: str | None = None,
             pending: float = 0.0) -> str:
    """A student's result in a few words, as the progress lines give it."""
    if status == "submission_error":
        return "submission error"
    if status == "infrastructure":
        return "not graded (a grader problem; the next run retries it)"
    text = f"{score:g}/{max_score:g}"
    if status == "import_error":
        text += ", the files do not import"
    if pending:
        text += f", {pending:g} pending a GPU run"
    return text


class Progress:
    def __init__(self, total: int, *, enabled: bool = True, stream=None, every: float = 10.0):
        self.total, self.done, self.enabled = total, 0, enabled and total > 0
        self.stream = stream or sys.stderr
        self.every, self._last_line, self._last_step = every, time.monotonic(), 0
        self._bar = None
        if self.enabled and getattr(self.stream, "isatty", lambda: False)():
            try:
                from tqdm import tqdm
                self._bar = tqdm(total=total, unit="sub", file=self.stream, dynamic_ncols=True)
            except ImportError:  # the bar is a nicety; plain lines do
                self._bar = None

    def graded(self, key: str, score: float, max_score: float, status: str | None = None,
               pending: float = 0.0) -> None:
        """One student done; ``status`` and ``pending`` (GPU points not yet graded) say what
        the score is: "pat: 11/144, 3 pending a GPU run", "frank: submission error"."""
        self.done += 1
        last = f"{visible(key)}: {describe(score, max_score, status, pending)}"
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(last)
            return
        if not self.enabled:
            return
        step = self.done * 10 // self.total
        now = time.monotonic()
        if step > self._last_step or now - self._last_line >= self.every \
                or self.done == self.total:
            self._last_step, self._last_line = step, now
            self._print(f"graded {self.done}/{self.total} (last: {last})")

    def note(self, message: str) -> None:
        """A line for the TA, whatever the mode (above the bar on a terminal)."""
        if self._bar is not None:
            self._bar.write(f"grader: {message}", file=self.stream)
        else:
            self._print(f"grader: {message}")

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
