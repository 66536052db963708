"""The HTML reports in a real browser: headless Chromium (Debian's ``chromium``), driven by
Playwright for clicks and network events, and by itself with ``--dump-dom``.

Skipped when Chromium or Playwright is missing, except where GRADER_REQUIRE_BROWSER is set
(CI sets it: there a missing browser fails loudly). Screenshots of the pages go to
``test-artifacts/pages/`` (or ``$GRADER_ARTIFACTS/pages/``): look at them.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from grader.course.config import REPO_ROOT, solutions_dir
from grader.results.scoring import GRADED

ASSIGNMENTS = sorted(p.parent.name for p in solutions_dir().glob("*/assignment.yaml"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the networking flags Chromium reaches out at start (updates, sync, field trials);
# they also make "the page made no request" a statement about the page alone.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("GRADER_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "pages"


def _missing(reason: str):
    if os.environ.get("GRADER_REQUIRE_BROWSER"):
        pytest.fail(f"{reason} (GRADER_REQUIRE_BROWSER is set)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A Chromium with a fresh profile, driven by Playwright."""
    if not os.access(CHROMIUM, os.X_OK):
        _missing("no Chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("no Playwright (pip install playwright)")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, args=FLAGS[1:], viewport={"width": 1100, "height": 900})
        yield context
        context.close()


class Visit:
    """One page loaded in the browser, with everything it asked for and everything it said."""

    def __init__(self, context, path: Path, query: str = ""):
        self.page = context.new_page()
        self.requests, self.console, self.errors, self.dialogs = [], [], [], []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.url = path.resolve().as_uri() + query
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def quiet(self):
        """No request but the page itself, nothing on the console, no error, no dialog."""
        assert [u for u in self.requests if not u.startswith("data:")] == [self.url]
        assert self.console == [] and self.errors == [] and self.dialogs == []

    def shot(self, name: str):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)

    def table(self, selector: str) -> list[list[str]]:
        return self.page.eval_on_selector_all(
            f"{selector} tbody tr",
            "rows => rows.map(r => Array.from(r.cells, c => c.textContent.trim()))")

    def close(self):
        self.page.close()


def test_no_page_makes_a_request_or_runs_a_students_script(browser, hostile_class):
    from report_class import SCRIPT_NAME, hostile_folders
    pages = [hostile_class / "index.html", *sorted(hostile_class.rglob("feedback.html"))]
    assert len(pages) == 10
    names_shown = False
    hostile = {f / "feedback.html" for f in hostile_folders(hostile_class)}
    assert len(hostile) == 2
    for path in pages:
        visit = Visit(browser, path)
        visit.quiet()
        assert visit.page.evaluate("typeof window.pwned") == "undefined", path
        assert visit.page.title() != "pwned"
        # What the student sent is on the page, as text.
        if path in hostile:
            text = visit.page.inner_text("body")
            assert "<script>window.pwned = 'script'" in text and "\\x1b[2J" in text
            visit.shot("hostile-student.png")
        record = path.parent / "results.json"
        if path.name == "feedback.html" and json.loads(record.read_text())["student"] == \
                SCRIPT_NAME:
            assert visit.page.inner_text("h1") == SCRIPT_NAME
            names_shown = True
        visit.close()
    assert names_shown


def test_the_student_table_sorts_by_a_clicked_column(browser, hostile_class):
    visit = Visit(browser, hostile_class / "index.html")
    header = visit.page.eval_on_selector_all("#students thead th",
                                             "cells => cells.map(c => c.dataset.column)")
    total, name = header.index("total"), header.index("student")
    start = visit.table("#students")
    assert [r[name] for r in start] == sorted(r[name] for r in start)  # the default: by name

    visit.page.click("#students th[data-column=total] button")
    ascending = [float(r[total]) for r in visit.table("#students")]
    assert ascending == sorted(ascending) and ascending != [float(r[total]) for r in start]
    assert visit.page.get_attribute("#students th[data-column=total]", "aria-sort") == "ascending"
    assert visit.page.get_attribute("#students th[data-column=student]", "aria-sort") == "none"
    visit.page.click("#students th[data-column=total] button")
    descending = [float(r[total]) for r in visit.table("#students")]
    assert descending == sorted(ascending, reverse=True)
    # Rows move whole: each name keeps its own total.
    assert sorted(map(tuple, visit.table("#students"))) == sorted(map(tuple, start))
    visit.quiet()
    visit.shot("dashboard-sorted-by-total.png")
    visit.close()


def test_every_link_of_the_dashboard_opens_that_students_page(browser, hostile_class):
    visit = Visit(browser, hostile_class / "index.html")
    links = visit.page.eval_on_selector_all(
        "#students tbody a", "links => links.map(a => [a.textContent, a.href])")
    assert len(links) == 9
    visit.close()
    for name, href in links:
        path = Path(unquote(urlparse(href).path))
        assert path.is_file() and path.name == "feedback.html"
        student = Visit(browser, path)
        assert student.page.inner_text("h1") == name
        student.quiet()
        student.close()


def dump_dom(url: str, tmp_path) -> str:
    """Chromium alone: load ``url``, run its scripts, print the DOM."""
    profile = tmp_path / "profile"
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_chromium_alone_renders_the_dashboard_sorted_by_the_address(hostile_class, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        _missing("no Chromium (apt-get install chromium)")
    url = (hostile_class / "index.html").resolve().as_uri() + "?sort=total&dir=desc"
    dom = dump_dom(url, tmp_path)
    body = dom.split('id="students"', 1)[1].split("</tbody>", 1)[0]
    totals = [float(t) for t in re.findall(r'<td class="num" data-value="([\d.]+)">[\d.]+</td>'
                                           r'<td>[^<]*</td>\s*<td class="num" data-value="[\d.]+"',
                                           body)]
    assert len(totals) == 9 and totals == sorted(totals, reverse=True)
    assert 'data-column="total" data-type="number" aria-sort="descending"' in dom


def gradebook(out: Path) -> list[dict]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_examples_pages_show_the_gradebooks_numbers(assignment, browser, example_batches):
    out, _ = example_batches(assignment)
    rows = gradebook(out)
    problems = [k for k in rows[0] if k not in ("student", "key", "total", "max_score",
                                                "status", "pending_gpu", "sandbox")]
    visit = Visit(browser, out / "index.html")
    visit.quiet()
    header = visit.page.eval_on_selector_all("#students thead th",
                                             "cells => cells.map(c => c.dataset.column)")
    shown = [dict(zip(header, r)) for r in visit.table("#students")]
    assert [{k: r[k] for k in ("student", *problems, "total", "status")} for r in shown] == \
        [{k: r[k] for k in ("student", *problems, "total", "status")}
         for r in sorted(rows, key=lambda r: r["student"])]
    totals = [float(r["total"]) for r in rows if r["status"] in GRADED]
    assert visit.page.inner_text("#n-graded") == str(len(totals))
    assert visit.page.inner_text("#mean") == f"{sum(totals) / len(totals):.2f}"
    for figure in visit.page.query_selector_all("figure img"):
        assert figure.get_attribute("alt")
        assert figure.evaluate("img => img.complete && img.naturalWidth > 0")
    visit.shot(f"{assignment}-dashboard.png")
    links = visit.page.eval_on_selector_all(
        "#students tbody a", "links => links.map(a => [a.textContent, a.href])")
    visit.close()
    by_name = {r["student"]: r for r in rows}
    for name, href in links:
        student = Visit(browser, Path(unquote(urlparse(href).path)))
        student.quiet()
        want = by_name[name]
        assert student.page.inner_text("#points") == want["total"]
        assert student.page.inner_text("#max-points") == want["max_score"]
        for pid in problems:
            cell = student.page.inner_text(f"#problems tr[data-problem={pid}] td:nth-child(2)")
            assert cell.split(" / ")[0] == want[pid], (name, pid)
        if float(want["total"]) == min(float(r["total"]) for r in rows if r["total"] != "0") \
                or "slow" in name:
            student.shot(f"{assignment}-{name}.png")
        student.close()
