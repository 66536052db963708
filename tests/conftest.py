"""Shared fixtures for the project's own tests."""
from __future__ import annotations

import contextlib
import os
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IS_ROOT = os.geteuid() == 0

# "uid" mode needs a Python outside root-only folders: it is tested in the Docker image.
# "jail-template": jail mode with the workers forked from a template (as in a batch).
SANDBOX_MODES = ["plain", "jail", "jail-template"] if IS_ROOT else ["plain"]
if not IS_ROOT:
    # A normal user's local backend is plain mode, which `grade` and `batch` refuse without the
    # TA's consent (--allow-unconfined): the suite consents, for itself and what it starts.
    # tests/test_plain_mode.py removes it to test the refusal.
    os.environ.setdefault("GRADER_ALLOW_UNCONFINED", "1")


@pytest.fixture(params=SANDBOX_MODES)
def sandbox_mode(request, monkeypatch):
    """Run a test under each sandbox mode this machine supports (and each way of starting
    jail-mode workers)."""
    mode = request.param.split("-")[0]
    monkeypatch.setenv("GRADER_SANDBOX_MODE", mode)
    if mode == "plain":  # graded unconfined on purpose: the TA's consent (--allow-unconfined)
        monkeypatch.setenv("GRADER_ALLOW_UNCONFINED", "1")
    if request.param.endswith("-template"):
        with worker_template():
            yield mode
    else:
        yield mode


@contextlib.contextmanager
def worker_template():
    """This process's workers (and those of the harnesses it forks) come from a template."""
    from grader.sandbox import template
    from grader.sandbox.local import PACKAGE_PARENT, clean_environment

    assert template.current() is None
    started = template.start(sys.executable, PACKAGE_PARENT, clean_environment())
    try:
        yield started
    finally:
        template.stop()


def write_files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


MINI_REFERENCE = """
    class MulNode:
        def forward(self, x, y):
            self.x, self.y = x, y
            return x * y

        def backward(self, d_out):
            return d_out * self.y, d_out * self.x


    def double(x):
        return 2 * x
"""


@pytest.fixture
def mini_solutions(tmp_path) -> Path:
    """A tiny assignment `mini` (3 points) in a solutions folder of its own."""
    root = tmp_path / "solutions"
    write_files(root / "mini", {
        "assignment.yaml": """
            id: mini
            title: Mini
            files: [graph.py]
            limits: {call_timeout: 2, total_timeout: 60}
            problems:
              - {id: mul, title: Mul, points: 2}
              - {id: double, title: Double, points: 1}
        """,
        "graph.py": MINI_REFERENCE,
        "tests/public/test_public.py": """
            import pytest
            from grader.testing import assert_close

            @pytest.mark.problem("double")
            def test_double(student):
                assert_close(student.double(2.0), 4.0)
        """,
        "tests/hidden/test_hidden.py": """
            import pytest
            from grader.testing import assert_close

            pytestmark = pytest.mark.problem("mul")

            @pytest.mark.points(2)
            def test_backward(student, reference, rng):
                \"\"\"backward must use d_out\"\"\"
                x, y, d = rng.standard_normal((3, 4))
                node, ref = student.MulNode(), reference.MulNode()
                node.forward(x, y)
                ref.forward(x, y)
                for got, want, name in zip(node.backward(d), ref.backward(d), ("dx", "dy")):
                    assert_close(got, want, name=name)
        """,
    })
    return root


@pytest.fixture(scope="session")
def example_batches(tmp_path_factory):
    """``get(assignment)`` -> (output folder, summary) of that assignment's example submissions
    graded as one batch, two at a time; graded once per session and shared by the tests that
    check the scores (test_examples) and the pages (test_pages_browser)."""
    from grader import batch

    done = {}

    def get(assignment):
        if assignment not in done:
            out = tmp_path_factory.mktemp(f"examples-{assignment}")
            summary = batch.batch(REPO / "examples" / "submissions" / assignment,
                                  assignment=assignment, out=out, jobs=2, progress=False)
            done[assignment] = (out, summary)
        return done[assignment]

    return get


@pytest.fixture(scope="session")
def hostile_class(tmp_path_factory):
    """A small hw1 class graded for real, with markup and script in names, output, messages
    and source lines, a submission error and a grader failure (see report_class.py); its pages
    are built. Returns the batch's output folder."""
    from grader.results.pages.build import write_pages
    from report_class import grade_class

    out = grade_class(tmp_path_factory.mktemp("hostile-class"))
    write_pages(out)
    return out
