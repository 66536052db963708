"""Write a batch's pages: ``students/<key>/feedback.html`` per student and ``index.html``.

Pages are self-contained (one inline style sheet, one inline script, plots as data URIs) and
carry a Content-Security-Policy that allows nothing else, so they open from a file, a zip or a
course web server alike, and make no network request. Jinja2 escapes every value
(``autoescape``); student text also goes through ``records.student_html``, which makes control
characters visible. Pages are written atomically, so a page is never half there.
"""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path

from grader.course.config import find_assignment
from grader.errors import GraderError
from grader.results.pages import figures, model
from grader.results.pages.records import StudentRecord, batch_records, student_html
from grader.results.scoring import write_text_atomic

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATUS_LABELS = {"ok": "graded", "needs_gpu": "graded; some points wait for a GPU run",
                 "import_error": "graded: your files do not import",
                 "submission_error": "submission error",
                 "infrastructure": "not graded: a grader problem"}


@lru_cache(maxsize=1)
def _environment():
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=False)
    env.filters["student"] = student_html
    env.filters["num"] = model.fmt
    return env


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _render(template: str, *, with_script: bool, **context) -> str:
    from markupsafe import Markup
    style = (TEMPLATES / "page.css").read_text(encoding="utf-8")
    script = (TEMPLATES / "sortable.js").read_text(encoding="utf-8")
    return _environment().get_template(template).render(
        style=Markup(style), style_hash=_csp_hash(style), with_script=with_script,
        script=Markup(script), script_hash=_csp_hash(script) if with_script else "'none'",
        kind_labels=figures.KIND_LABELS, status_labels=STATUS_LABELS, **context)


def student_page(record: StudentRecord, spec) -> str:
    """The HTML of one student's feedback page."""
    return _render("student.html.j2", with_script=False, s=model.student_view(record, spec))


def dashboard(records: list[StudentRecord], spec, out: Path) -> str:
    """The HTML of the class dashboard."""
    view = model.class_view(records, spec, out)
    return _render("index.html.j2", with_script=True, c=view, figures=_figures(view))


def _figures(view: dict) -> dict:
    # Every figure the template asks for is a key (None: not drawn), so a class with no graded
    # student (all submission errors) or no matplotlib renders too.
    drawn = dict.fromkeys(("scores", "rates", "kinds", "speed"))
    if not figures.available():
        return drawn
    graded = view["graded"]
    if graded:
        drawn["scores"] = {
            "src": figures.data_uri(figures.score_figure(
                view["totals"], float(view["max_score"]),
                title=f"{view['assignment']}: {graded} graded students")),
            "alt": f"Histogram of the totals of {graded} graded students, out of "
                   f"{view['max_score']}: {view['statistics']}."}
        drawn["rates"] = {
            "src": figures.data_uri(figures.rates_figure(view["problems"])),
            "alt": "Per problem, the share of students with full marks and of tests passed: "
                   + "; ".join(f"{p['id']} {p['full_marks_pct']:.0f}% full marks, "
                               f"{p['tests_passed_pct']:.0f}% of tests passed"
                               for p in view["problems"]) + "."}
        drawn["kinds"] = {
            "src": figures.data_uri(figures.kinds_figure(view["problems"], view["kinds"])),
            "alt": "Failing tests per problem by kind: " + "; ".join(
                f"{p['id']}: " + (", ".join(f"{figures.KIND_LABELS.get(k, k)} {n}"
                                            for k, n in sorted(p["failures"].items())) or "none")
                for p in view["problems"]) + "."}
    if view["timing"]:
        drawn["speed"] = {
            "src": figures.data_uri(figures.speed_figure(view["timing"])),
            "alt": "Speed ratio of each graded student per timing test, against its limit: "
                   + "; ".join(f"{t['name']}: median {t['median']:.2f}x, {t['over']} of {t['n']} "
                               "over the limit" for t in view["timing"]) + "."}
    return drawn



def write_pages(out, spec=None) -> Path:
    """(Re)build every student's feedback page and the dashboard from the records stored in
    ``out``; return the path of ``index.html``. ``spec`` defaults to the records' assignment."""
    out = Path(out)
    if not out.is_dir():
        raise GraderError(f"{out}: no such folder (the output folder of `grader batch`)")
    records = batch_records(out)
    if not records:
        raise GraderError(f"{out}: no graded students here (no results.json in its student "
                          "folders); run `grader batch` first")
    if spec is None:
        ids = sorted({str(r.results.get("assignment")) for r in records})
        if len(ids) != 1:
            raise GraderError(f"{out}: the records are of {len(ids)} assignments "
                              f"({', '.join(ids)}); a batch's folder holds one")
        spec = find_assignment(ids[0])
    for record in records:
        write_text_atomic(record.folder / "feedback.html", student_page(record, spec))
    index = out / "index.html"
    write_text_atomic(index, dashboard(records, spec, out))
    return index
