"""Issue 20, item 5 in a real browser (headless Chromium, Playwright): the dashboard and the
student pages of a class with a pending GPU run, a file that does not import, a submission
error and a result graded in plain mode; axe-core finds no accessibility violation on them.
Screenshots go to ``test-artifacts/pages/`` (look at them).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_pages_browser import Visit, _missing, browser  # noqa: F401 (a fixture)
from test_pending import PENDING_SENTENCE, hw2_class  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def with_plain(hw2_class):  # noqa: F811
    """The class, with pat's result marked as graded in plain mode, pages rebuilt."""
    from grader.results.pages.build import write_pages
    out, _, _, _ = hw2_class
    path = out / "students" / "pat" / "results.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    saved = json.dumps(results)
    results["provenance"] = {**results.get("provenance", {}), "sandbox_mode": "plain"}
    path.write_text(json.dumps(results), encoding="utf-8")
    write_pages(out)
    yield out
    path.write_text(saved, encoding="utf-8")
    write_pages(out)


def axe_violations(page) -> list[str]:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _missing("no axe-playwright-python (pip install 'nn-grader[browser]')")
    found = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['help']}: "
            + "; ".join(n["html"][:120] for n in v["nodes"][:3]) for v in found]


def test_the_dashboard_shows_pending_import_errors_and_plain(browser, with_plain):  # noqa: F811
    visit = Visit(browser, with_plain / "index.html")
    visit.quiet()
    page = visit.page
    assert page.inner_text("#n-graded") == "2" and page.inner_text("#n-pending") == "1"
    assert page.inner_text("#n-import-errors") == "1"
    assert page.inner_text("#n-infrastructure") == "0"
    assert [r[0] for r in visit.table("#pending")] == ["pat"]
    assert [r[0] for r in visit.table("#import-errors")] == ["dave"]
    assert "SyntaxError" in visit.table("#import-errors")[0][1]
    statistics = page.inner_text("#statistics")
    assert statistics.startswith("mean 5.50, median 5.5 of 144 over 2 graded submissions")
    plain = page.inner_text("#sandbox-plain")
    assert "not confined" in plain and "pat" in plain
    assert page.is_visible("#sandbox-plain")
    visit.shot("pending-dashboard.png")
    assert axe_violations(page) == []
    visit.close()


def test_the_pending_students_page_is_neutral(browser, with_plain):  # noqa: F811
    visit = Visit(browser, with_plain / "students" / "pat" / "feedback.html")
    visit.quiet()
    page = visit.page
    assert PENDING_SENTENCE in page.inner_text("#pending")
    assert page.inner_text("#status") == "graded; some points wait for a GPU run"
    row = page.inner_text("#problems tr[data-problem=linear_cuda_speed]")
    assert "(3 pending)" in row
    cell = page.query_selector("#problems tr[data-problem=linear_cuda_speed] td:nth-child(2) span")
    assert "verdict-bad" not in cell.get_attribute("class")
    assert "--regrade-pending" not in page.inner_text("body")
    visit.shot("pending-student.png")
    assert axe_violations(page) == []
    visit.close()


def test_the_import_error_banner_comes_first(browser, with_plain):  # noqa: F811
    visit = Visit(browser, with_plain / "students" / "dave" / "feedback.html")
    visit.quiet()
    page = visit.page
    banner = page.query_selector("#import-error")
    ignored = page.query_selector("#ignored")
    first_test = page.query_selector(".test.failing")
    assert "Fix this first" in banner.inner_text() and "SyntaxError" in banner.inner_text()
    top = [e.bounding_box()["y"] for e in (banner, ignored, first_test)]
    assert top == sorted(top)  # the banner above the ignored files, above every test card
    assert page.inner_text("#status") == "graded: your files do not import"
    visit.shot("import-error-student.png")
    assert axe_violations(page) == []
    visit.close()


def test_the_screenshots_are_there(with_plain):
    """Written by the tests above (look at them)."""
    from test_pages_browser import ARTIFACTS
    if not (ARTIFACTS / "pending-dashboard.png").exists():
        pytest.skip("no browser run")
    assert all((ARTIFACTS / n).stat().st_size > 10_000 for n in (
        "pending-dashboard.png", "pending-student.png", "import-error-student.png"))
    assert Path(ARTIFACTS).is_dir()
