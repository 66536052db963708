"""What a TA reads: the ranked list (``index.html``), a page per pair with the two submissions
side by side and their matches highlighted, ``similarity.csv`` for the record and
``similarity.json`` for the class dashboard.

Every page is self-contained (inline CSS, no script, no external resource) and carries a
Content-Security-Policy that forbids scripts, so even a mistake in escaping could not run
anything. Everything that comes from a student (code, names) is HTML-escaped, with control and
invisible formatting characters (bidirectional overrides: "Trojan Source") shown as escapes.
"""
from __future__ import annotations

import csv
import html
import json
import os
import tempfile
from pathlib import Path

from grader.results.safe_text import spreadsheet_cell, visible_html
from grader.similarity.fingerprints import normalise
from grader.similarity.pairs import shown as pairs_shown
from grader.similarity.summary import IGNORED, STATEMENT

_PALETTE = ("#ffe08a", "#a8e6a1", "#9fd3ff", "#f7b2d9", "#ffc29b", "#c9b8ff")

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:.2em 0}
.verdict{border-left:5px solid #c77700;background:#fff6e5;padding:.6em 1em;max-width:60em}
table.rank{border-collapse:collapse;margin-top:1em}
table.rank td,table.rank th{border-bottom:1px solid #ddd;padding:.25em .7em;text-align:left}
tr.flag td{background:#fff0f0}
.num{text-align:right;font-variant-numeric:tabular-nums}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:1em;margin-top:1em}
.side h2{font-size:1.05em;margin:.3em 0}
.code{font:12px/1.45 ui-monospace,monospace;border:1px solid #ccc;overflow-x:auto;
      white-space:pre;tab-size:4}
.line{display:block;padding-right:1em}
.line>i{display:inline-block;width:3.5em;color:#888;text-align:right;padding-right:.8em;
        font-style:normal;user-select:none}
""" + "".join(f".m{i}{{background:{c}}}\n" for i, c in enumerate(_PALETTE))


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; img-src data:\">\n"
            "<meta name=\"referrer\" content=\"no-referrer\">\n"
            f"<title>{visible_html(title)}</title><style>{_CSS}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def write_report(out: Path, spec, submissions: list, pairs: list, settings, *,
                 pages: int, seconds: float) -> dict:
    """Write the report into ``out``; return what ``similarity.json`` holds."""
    out = Path(out)
    (out / "pairs").mkdir(parents=True, exist_ok=True)
    for old in (out / "pairs").glob("pair-*.html"):  # a previous run's ranking
        old.unlink()
    by_key = {s.key: s for s in submissions}
    shown = pairs_shown(pairs, settings, pages)
    links = {}
    for i in shown:
        links[i] = f"pairs/pair-{i + 1:04d}.html"
        _write_text(out / links[i], pair_page(pairs[i], by_key, spec, settings, rank=i + 1))
    _write_csv(out / "similarity.csv", pairs, by_key, settings)
    summary = {
        "assignment": spec.id, "students": len(submissions),
        "compared": sum(1 for s in submissions if s.files),
        "without_files": sorted(s.label for s in submissions if s.files is None),
        "pairs_sharing_code": len(pairs),
        "flagged": [{"a": by_key[p.a].label, "b": by_key[p.b].label, "score": round(p.score, 4),
                     "page": links.get(i)} for i, p in enumerate(pairs) if settings.flags(p)],
        "threshold": settings.threshold, "min_match": settings.min_match,
        "common_limit": settings.common_limit(sum(1 for s in submissions if s.files)),
        "seconds": round(seconds, 2), "index": "index.html", "csv": "similarity.csv",
        "statement": STATEMENT,
    }
    _write_text(out / "index.html", index_page(spec, pairs, by_key, settings, shown, links,
                                               summary))
    _write_text(out / "similarity.json", json.dumps(summary, indent=2, ensure_ascii=False))
    return summary


def index_page(spec, pairs, by_key, settings, shown, links, summary) -> str:
    rows = []
    for i in shown:
        p = pairs[i]
        lines_a, lines_b = _lines_in(p.regions, "lines_a"), _lines_in(p.regions, "lines_b")
        rows.append(
            f"<tr class=\"{'flag' if settings.flags(p) else ''}\"><td class=num>{i + 1}</td>"
            f"<td><a href=\"{links[i]}\">{visible_html(by_key[p.a].label)} &harr; "
            f"{visible_html(by_key[p.b].label)}</a></td>"
            f"<td class=num>{_pct(p.score)}</td><td class=num>{_pct(p.similarity_a)} / "
            f"{_pct(p.similarity_b)}</td><td class=num>{lines_a} / {lines_b}</td>"
            f"<td class=num>{len(p.regions)}</td><td>{'look' if settings.flags(p) else ''}</td>"
            "</tr>")
    missing = summary["without_files"]
    body = [
        f"<h1>Similar submissions: {html.escape(spec.id)}</h1>",
        f"<p class=verdict><b>{html.escape(STATEMENT)}</b></p>",
        f"<p>{summary['compared']} submissions compared ({summary['students']} students), "
        f"{summary['pairs_sharing_code']} pairs share some code, "
        f"<b>{len(summary['flagged'])}</b> at or above {_pct(settings.threshold)} with at least "
        f"{settings.min_match} characters of normalised code in common. "
        f"{html.escape(IGNORED)} Passages found in more than "
        f"{summary['common_limit']:g} submissions count as shared too. "
        f"All pairs: <a href=\"similarity.csv\">similarity.csv</a>.</p>",
    ]
    if missing:
        body.append(f"<p>Not compared (their files were not kept): "
                    f"{', '.join(visible_html(m) for m in missing)}.</p>")
    body.append("<table class=rank><tr><th>#</th><th>pair</th><th>score</th>"
                "<th>share of each found in the other</th><th>matched lines</th>"
                "<th>passages</th><th></th></tr>" + "".join(rows) + "</table>")
    if len(shown) < len(pairs):
        body.append(f"<p>{len(pairs) - len(shown)} more pairs are in the CSV.</p>")
    return _page(f"Similar submissions: {spec.id}", "\n".join(body))


def _lines_in(regions, side: str) -> int:
    """How many lines of one side the passages cover (each line once)."""
    return len({(r.file, n) for r in regions
                for n in range(getattr(r, side)[0], getattr(r, side)[1] + 1)})


def pair_page(pair, by_key, spec, settings, *, rank: int) -> str:
    a, b = by_key[pair.a], by_key[pair.b]
    regions = "".join(
        f"<tr><td class=num><span class=m{n % len(_PALETTE)}>&nbsp;{n + 1}&nbsp;</span></td>"
        f"<td>{html.escape(r.file)}</td>"
        f"<td><a href=\"#a{_fid(spec, r.file)}-L{r.lines_a[0]}\">lines {r.lines_a[0]}&ndash;"
        f"{r.lines_a[1]}</a></td><td><a href=\"#b{_fid(spec, r.file)}-L{r.lines_b[0]}\">lines "
        f"{r.lines_b[0]}&ndash;{r.lines_b[1]}</a></td></tr>"
        for n, r in enumerate(pair.regions))
    sides = []
    for file in [f for f in spec.files if f in (a.files or {}) and f in (b.files or {})]:
        marks_a, marks_b = _marks(pair, file, "lines_a"), _marks(pair, file, "lines_b")
        sides.append(
            f"<div class=sides><div class=side><h2>{visible_html(a.label)}: "
            f"{html.escape(file)}</h2>{_code(a.files[file], marks_a, f'a{_fid(spec, file)}')}"
            f"</div><div class=side><h2>{visible_html(b.label)}: {html.escape(file)}</h2>"
            f"{_code(b.files[file], marks_b, f'b{_fid(spec, file)}')}</div></div>")
    body = (
        f"<p><a href=\"../index.html\">&larr; all pairs</a></p>"
        f"<h1>#{rank}: {visible_html(a.label)} &harr; {visible_html(b.label)}</h1>"
        f"<p class=verdict><b>{html.escape(STATEMENT)}</b></p>"
        f"<p>Score {_pct(pair.score)}: {_pct(pair.similarity_a)} of "
        f"{visible_html(a.label)}'s own code is found in {visible_html(b.label)}'s, "
        f"{_pct(pair.similarity_b)} the other way; {pair.matched} characters of normalised code "
        f"in common{' (at or above the threshold: worth a look)' if settings.flags(pair) else ''}"
        f". {html.escape(IGNORED)}</p>"
        "<table class=rank><tr><th>passage</th><th>file</th>"
        f"<th>{visible_html(a.label)}</th><th>{visible_html(b.label)}</th></tr>{regions}</table>"
        + "".join(sides))
    return _page(f"#{rank}: {a.label} and {b.label}", body)


def _fid(spec, file: str) -> int:
    return list(spec.files).index(file)


def _marks(pair, file: str, side: str) -> dict:
    """Line number -> the first passage that covers it, in one file of one side."""
    marks: dict = {}
    for n, r in enumerate(pair.regions):
        if r.file == file:
            first, last = getattr(r, side)
            for line in range(first, last + 1):
                marks.setdefault(line, n)
    return marks


def _code(text: str, marks: dict, prefix: str) -> str:
    lines = normalise(text).split("\n")
    out = []
    for number, line in enumerate(lines, start=1):
        cls = f" m{marks[number] % len(_PALETTE)}" if number in marks else ""
        title = f" title=\"passage {marks[number] + 1}\"" if number in marks else ""
        out.append(f"<span class=\"line{cls}\" id=\"{prefix}-L{number}\"{title}><i>{number}</i>"
                   f"{visible_html(line)}</span>")
    return "<div class=code>" + "".join(out) + "</div>"


def _write_csv(path: Path, pairs, by_key, settings) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".similarity.", suffix=".csv")
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["rank", "student_a", "key_a", "student_b", "key_b", "score",
                         "similarity_a", "similarity_b", "matched_chars", "flagged", "passages"])
        for i, p in enumerate(pairs):
            passages = "; ".join(f"{r.file}:{r.lines_a[0]}-{r.lines_a[1]}="
                                 f"{r.lines_b[0]}-{r.lines_b[1]}" for r in p.regions or [])
            writer.writerow([i + 1, _cell(by_key[p.a].label), p.a, _cell(by_key[p.b].label),
                             p.b, f"{p.score:.4f}", f"{p.similarity_a:.4f}",
                             f"{p.similarity_b:.4f}", p.matched,
                             "yes" if settings.flags(p) else "no", passages])
    os.replace(tmp, path)


_cell = spreadsheet_cell  # a cell no spreadsheet reads as a formula: as gradebook.csv's


def _write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
