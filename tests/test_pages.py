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
    hostile = Page((next(hostile_class.glob("img_src*")) / "feedback.html").read_text())
    shown = "".join(hostile.text)
    assert "<script>window.pwned = 'script'" in shown  # as text, for the student to read
    assert "\\x1b[2J\\x1b[1;1HALL TESTS PASSED" in shown and "\\u202e" in shown
    assert "# <script>window.pwned='traceback'</script>" in shown  # their own source line
    mallory = Page((hostile_class / "mallory" / "feedback.html").read_text())
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
    frank = (hostile_class / "frank" / "feedback.html").read_text()
    assert 'id="submission-message"' in frank and 'id="problems"' not in frank
    grace = (hostile_class / "grace" / "feedback.html").read_text()
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
        results = json.loads((hostile_class / student / "results.json").read_text())
        want = [(k[len("gradient_error_"):], f"{v:.2e}",
                 f"{t['extra_data'][k.replace('error', 'tolerance')]:.0e}")
                for t in results["tests"] for k, v in t.get("extra_data", {}).items()
                if k.startswith("gradient_error_")]
        rows = gradient_rows((hostile_class / student / "feedback.html").read_text())
        assert want and [r[:3] for r in rows] == want
        assert verdict in {r[3] for r in rows}
    assert {r[3] for r in gradient_rows((hostile_class / "alice" / "feedback.html")
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
