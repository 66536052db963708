"""HTML reports: the student pages and the class dashboard (unit level; the browser tests are
in test_pages_browser.py), and the batch's summary.png."""
import html.parser
import json
import re

import pytest

from grader.course.config import REPO_ROOT, find_assignment, solutions_dir
from grader.results import reports

HW1 = find_assignment("hw1_graph")
ASSIGNMENTS = sorted(p.parent.name for p in solutions_dir().glob("*/assignment.yaml"))


def gradebook_row(name, total, status="ok", spec=HW1):
    row = {"student": name, **{p.id: "0" for p in spec.problems}}
    row.update(total=f"{total:g}", max_score=f"{spec.max_score:g}", status=status)
    return row


def test_summary_png_counts_whole_students_and_leaves_out_who_was_not_graded(tmp_path,
                                                                              monkeypatch):
    """summary.png showed half students on its y axis and drew submission errors as zeros."""
    import matplotlib.figure
    drawn = []
    savefig = matplotlib.figure.Figure.savefig

    def keep(fig, *args, **kwargs):
        drawn.append(fig)
        return savefig(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    rows = [gradebook_row("alice", 42), gradebook_row("bob", 21)] + [
        gradebook_row(n, 0, "submission_error") for n in ("carol", "dave", "erin")]
    assert reports.batch_picture(tmp_path, HW1, rows) == str(tmp_path / "summary.png")
    histogram = drawn[0].axes[0]
    assert sum(p.get_height() for p in histogram.patches) == 2  # alice and bob only
    ticks = [t for t in histogram.get_yticks() if histogram.get_ylim()[0] <= t
             <= histogram.get_ylim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert all(float(t).is_integer() for t in histogram.get_xticks())


# --- the pages' HTML, parsed -------------------------------------------------------------------

class Page(html.parser.HTMLParser):
    """What a page holds: its elements with their attributes, its scripts and its text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements, self.scripts, self.text, self._in_script = [], [], [], False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if tag == "script":
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)

    def attrs(self, name):
        return [a[name] for _, a in self.elements if name in a]


def folder(out, key):
    """A student's folder in a batch's output (keyed layout or the older one)."""
    return out / "students" / key if (out / "students").is_dir() else out / key


def pages(out):
    return {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(out.rglob("*.html"))}


def test_every_student_gets_a_page_and_the_dashboard_links_each(hostile_class):
    records = sorted(p.parent for p in hostile_class.rglob("results.json"))
    assert len(records) == 9
    for folder in records:
        assert (folder / "feedback.html").is_file()
    index = Page((hostile_class / "index.html").read_text())
    table_links = [a["href"] for tag, a in index.elements if tag == "a" and "href" in a
                   and a["href"].endswith("feedback.html")]
    from urllib.parse import unquote
    linked = {(hostile_class / unquote(h)).resolve() for h in table_links}
    assert linked == {(f / "feedback.html").resolve() for f in records}


def test_no_page_can_run_a_students_markup_or_script(hostile_class):
    from report_class import SCRIPT_NAME
    for name, text in pages(hostile_class).items():
        page = Page(text)
        # Our one script on the dashboard, none on a student's page; no event handlers, no
        # element that loads anything from outside the page.
        assert page.scripts == ([_sortable_js()] if name == "index.html" else []), name
        assert not [a for _, attrs in page.elements for a in attrs if a.startswith("on")], name
        assert all(src.startswith("data:image/svg+xml;base64,") for src in page.attrs("src"))
        assert not any(h.startswith(("http:", "https:", "//", "javascript:"))
                       for h in page.attrs("href")), name
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    from report_class import hostile_folders
    assert len(hostile_folders(hostile_class)) == 2
    hostile = Page((hostile_folders(hostile_class)[0] / "feedback.html").read_text())
    shown = "".join(hostile.text)
    assert "<script>window.pwned = 'script'" in shown  # as text, for the student to read
    assert "\\x1b[2J\\x1b[1;1HALL TESTS PASSED" in shown and "\\u202e" in shown
    assert "# <script>window.pwned='traceback'</script>" in shown  # their own source line
    mallory = Page((folder(hostile_class, "mallory") / "feedback.html").read_text())
    assert SCRIPT_NAME in "".join(mallory.text)
    assert SCRIPT_NAME in "".join(Page((hostile_class / "index.html").read_text()).text)


def _sortable_js():
    from grader.results.pages.build import TEMPLATES
    return (TEMPLATES / "sortable.js").read_text()


def test_the_content_security_policy_allows_only_the_pages_own_style_and_script(hostile_class):
    import base64
    import hashlib

    def digest(text):
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() \
            + "'"

    for name, text in pages(hostile_class).items():
        page = Page(text)
        policy = next(a["content"] for tag, a in page.elements
                      if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy")
        rules = dict(rule.strip().split(" ", 1) for rule in policy.split(";"))
        assert rules["default-src"] == "'none'" and rules["img-src"] == "data:"
        style = text.split("<style>", 1)[1].split("</style>", 1)[0]
        assert rules["style-src"] == digest(style)
        assert rules["script-src"] == (digest(_sortable_js()) if name == "index.html"
                                       else "'none'")


def test_a_submission_error_and_a_grader_failure_are_said_plainly(hostile_class):
    frank = (folder(hostile_class, "frank") / "feedback.html").read_text()
    assert 'id="submission-message"' in frank and 'id="problems"' not in frank
    grace = (folder(hostile_class, "grace") / "feedback.html").read_text()
    assert "it is not your fault" in grace
    index = Page((hostile_class / "index.html").read_text())
    text = " ".join(index.text)
    assert "frank" in text and "grace" in text
    # Neither is a score: the dashboard counts 7 graded of 9.
    html_text = (hostile_class / "index.html").read_text()
    assert '<b id="n-graded">7</b>' in html_text and '<b id="n-students">9</b>' in html_text
    assert '<b id="n-submission-errors">1</b>' in html_text
    assert '<b id="n-infrastructure">1</b>' in html_text


def gradient_rows(page: str) -> list[tuple[str, str, str, str]]:
    """(gradient, relative error, threshold, verdict) of each row of a page's gradient tables."""
    return re.findall(r'<td><code>([^<]*)</code></td>\s*<td class="num">([^<]*)</td>'
                      r'<td class="num">([^<]*)</td>\s*<td>(?:<span class="[^"]*">)?([^<]*)',
                      page)


def test_gradient_errors_are_shown_against_their_thresholds(hostile_class):
    for student, verdict in (("alice", "within"), ("erin", "too large")):
        results = json.loads((folder(hostile_class, student) / "results.json").read_text())
        want = [(k[len("gradient_error_"):], f"{v:.2e}",
                 f"{t['extra_data'][k.replace('error', 'tolerance')]:.0e}")
                for t in results["tests"] for k, v in t.get("extra_data", {}).items()
                if k.startswith("gradient_error_")]
        rows = gradient_rows((folder(hostile_class, student) / "feedback.html").read_text())
        assert want and [r[:3] for r in rows] == want
        assert verdict in {r[3] for r in rows}
    assert {r[3] for r in gradient_rows((folder(hostile_class, "alice") / "feedback.html")
                                        .read_text())} == {"within"}


# --- no hidden test's source in any student page ------------------------------------------------

def hidden_source_lines(assignment: str) -> list[str]:
    """Every line of the assignment's hidden suites that a student has no other way to see: all
    but blank lines, the instructor's hints (the first docstring line of each test, shown on
    purpose) and lines found verbatim in the student release (public tests, skeleton, handout:
    ``rtol=0, atol=0)`` is in a public test too)."""
    import ast
    released = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                         for p in (REPO_ROOT / "assignments" / assignment).rglob("*")
                         if p.is_file())
    lines = []
    for path in sorted((solutions_dir() / assignment / "tests" / "hidden").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        hints = {ast.get_docstring(node).strip().splitlines()[0]
                 for node in ast.walk(ast.parse(source))
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and ast.get_docstring(node)}
        lines += [line.strip() for line in source.splitlines() if line.strip()
                  and line.strip() not in released and line.strip().strip('"').strip() not in hints]
    return lines


def leaked_lines(lines: list[str], page: str) -> list[str]:
    """The lines found in a page, in its HTML (unescaped) or in its text."""
    import html as html_mod
    haystacks = (html_mod.unescape(page), "".join(Page(page).text))
    return [line for line in lines if any(line in h for h in haystacks)]


def test_the_leak_check_finds_a_hidden_line_in_a_page():
    lines = hidden_source_lines("hw1_graph")
    assert len(lines) > 100
    page = "<pre>" + __import__("html").escape(lines[40]) + "</pre>"
    assert leaked_lines(lines, page) == [lines[40]]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_student_page_shows_a_line_of_the_hidden_suites(assignment, example_batches):
    out, _ = example_batches(assignment)
    lines = hidden_source_lines(assignment)
    pages = sorted(out.rglob("feedback.html"))
    assert lines and len(pages) == len(list(out.rglob("results.json")))
    for page in pages:
        assert leaked_lines(lines, page.read_text(encoding="utf-8")) == [], page


# --- what the pages read from results.json -------------------------------------------------------

def test_a_visible_tests_output_splits_into_message_traceback_and_printed_output():
    from grader.results.pages.model import split_output
    text = ("ValueError: bad\nIn your code:\n  File \"graph.py\", line 3, in f\n    raise X\n"
            "Your code printed:\nhello\n")
    assert split_output(text) == {"message": "ValueError: bad",
                                  "traceback": '  File "graph.py", line 3, in f\n    raise X',
                                  "printed": "hello"}
    assert split_output("Your code printed:\nhi") == {"message": "", "traceback": "",
                                                      "printed": "hi"}
    assert split_output("x is 1; expected 2")["message"] == "x is 1; expected 2"


def test_a_hidden_test_shows_its_hint_and_kind_only():
    from grader.results.pages.model import GRADER_PROBLEM, test_view
    hidden = {"name": "test_h", "status": "failed", "hidden": True, "score": 0, "max_score": 2}
    view = test_view({**hidden, "kind": "wrong_answer",
                      "output": "wrong answer: mind the batch axis.\nIn your code:\n  x"})
    assert view["parts"] == {"message": "mind the batch axis.\nIn your code:\n  x",
                             "traceback": "", "printed": ""}
    assert view["label"] == "wrong answer" and view["max_score"] == "2"
    view = test_view({**hidden, "kind": "infrastructure",
                      "output": "the grader could not set up this test: KeyError: W_ref"})
    assert view["parts"]["message"] == GRADER_PROBLEM


@pytest.mark.parametrize("extra, shown", [
    ({"speed_ratio": 7.8, "speed_limit": 3.0, "student_seconds": 0.0285,
      "reference_seconds": 0.00365, "repetitions": 5},
     {"ratio": 7.8, "limit": 3.0, "over": True, "student_ms": "28.5 ms",
      "reference_ms": "3.65 ms", "repetitions": 5}),
    ({"speed_ratio": 45.7, "speed_limit": 6.0, "student_seconds": 1.44,
      "reference_seconds": 0.0315},
     {"ratio": 45.7, "over": True, "student_ms": "1.44 s", "reference_ms": "31.5 ms"}),
    ({"speed_ratio": 0.9, "speed_limit": 3.0},  # older records: no times
     {"ratio": 0.9, "limit": 3.0, "over": False, "student_ms": None, "reference_ms": None,
      "repetitions": None}),
    ({"speed_ratio": 60.0},  # a timeout: the ratio is a lower bound, no limit recorded
     {"ratio": 60.0, "limit": None, "over": False}),
    ({"speed_ratio": 2.0, "speed_limit": "3", "student_seconds": None, "repetitions": True},
     {"ratio": 2.0, "limit": None, "student_ms": None, "repetitions": None}),
])
def test_speed_figures_are_read_defensively(extra, shown):
    from grader.results.pages.model import speed
    figures = speed(extra)
    assert {k: figures[k] for k in shown} == shown
    assert 0 <= figures["bar"] <= 1 and 0 <= figures["one_at"] <= 1
    if figures["limit"]:
        assert (figures["bar"] > figures["limit_at"]) == figures["over"]


@pytest.mark.parametrize("extra", [{}, {"speed_ratio": 0}, {"speed_ratio": -1.0},
                                   {"speed_ratio": "fast"}, {"speed_ratio": float("nan")}])
def test_no_speed_bar_without_a_positive_ratio(extra):
    from grader.results.pages.model import speed
    assert speed(extra) is None


def test_gradient_errors_without_a_recorded_threshold_have_no_verdict():
    from grader.results.pages.model import gradients
    assert gradients({"gradient_error_dx": 1e-9, "gradient_error_dw": 0.5,
                      "gradient_tolerance_dw": 1e-6, "gradient_error_db": "x",
                      "speed_ratio": 2.0}) == [
        {"name": "dw", "error": 0.5, "tolerance": 1e-6, "ok": False},
        {"name": "dx", "error": 1e-9, "tolerance": None, "ok": None}]


def test_the_harness_records_each_gradient_checks_threshold():
    import numpy as np
    from grader.harness import testing
    testing.take_recorded()
    x = np.array([1.0, 2.0])
    testing.check_gradient(lambda v: v ** 2, x, 2 * x, d_out=np.ones(2),
                           rng=np.random.default_rng(0), name="dx", tol=1e-5)
    recorded = testing.take_recorded()
    assert recorded["gradient_tolerance_dx"] == 1e-5 and recorded["gradient_error_dx"] < 1e-5


# --- `grader report` ------------------------------------------------------------------------------

def run_cli(*args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=300)


def test_report_rebuilds_exactly_the_pages_a_resumed_batch_wrote(tmp_path):
    import shutil
    from grader import batch
    examples = REPO_ROOT / "examples" / "submissions" / "hw1_graph"
    subs = tmp_path / "subs"
    for name, example in {"alice": "correct", "bob": "forgets_dout"}.items():
        shutil.copytree(examples / example, subs / name)
    out = tmp_path / "out"
    first = batch.batch(subs, assignment="hw1_graph", out=out, progress=False)
    assert first["report"] == str(out / "index.html")
    shutil.copytree(examples / "mutates_x", subs / "carol")  # the class grows; resume
    again = batch.batch(subs, assignment="hw1_graph", out=out, progress=False)
    assert again["graded_now"] == 1
    written = pages(out)
    assert len(written) == 4 and "carol" in written["index.html"]
    for name in written:
        (out / name).unlink()
    proc = run_cli("report", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{out / 'index.html'}\n"
    assert pages(out) == written


def test_report_on_a_folder_without_a_batch_says_so(tmp_path):
    proc = run_cli("report", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "no such folder" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli("report", str(tmp_path))
    assert proc.returncode == 2 and "no graded students here" in proc.stderr


def test_the_files_the_grader_ignored_are_listed_for_the_student(hostile_class, tmp_path):
    from grader.results.pages.build import student_page
    from grader.results.pages.records import StudentRecord
    alice = json.loads((folder(hostile_class, "alice") / "results.json").read_text())
    record = StudentRecord("alice", "alice", tmp_path, {
        **alice, "ignored_files": ["layers/__init__.py", "__pycache__/graph.cpython-311.pyc",
                                   "<b>bold</b>.py"]})
    text = student_page(record, HW1)
    assert "<code>&lt;b&gt;bold&lt;/b&gt;.py</code>" in text
    assert "<code>layers/__init__.py</code>" in text
    assert 'id="ignored"' not in student_page(StudentRecord("alice", "alice", tmp_path, alice),
                                              HW1)
