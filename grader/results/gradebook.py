"""A batch's durable records: one ``results.json`` and ``feedback.txt`` per student, and the
``gradebook.csv`` and summary rebuilt from them (so a batch killed at any moment resumes).
"""
from __future__ import annotations

import csv
import json
import os
import statistics
import tempfile
from pathlib import Path

from grader.results import reports
from grader.results.scoring import write_json_atomic


def read_record(out: Path, name: str) -> dict | None:
    try:
        return json.loads((out / name / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_record(out: Path, name: str, results: dict) -> dict:
    """Write one student's results and feedback; keep an earlier good result over a failure."""
    old = read_record(out, name)
    if results.get("status") == "infrastructure" and old and old.get("status") == "ok":
        return old
    write_json_atomic(out / name / "results.json", results)
    feedback = reports.feedback(results)
    tmp = out / name / ".feedback.txt.tmp"
    tmp.write_text(feedback, encoding="utf-8")
    os.replace(tmp, out / name / "feedback.txt")
    return results


def write_gradebook(out: Path, spec, students: list[str]) -> list[dict]:
    rows = []
    for name in students:
        res = read_record(out, name)
        if res is None:
            continue
        row = {"student": name}
        for p in spec.problems:
            row[p.id] = f"{res.get('problems', {}).get(p.id, {}).get('score', 0):g}"
        row.update(total=f"{res['score']:g}", max_score=f"{res['max_score']:g}",
                   status=res.get("status", "?"))
        rows.append(row)
    fields = ["student", *(p.id for p in spec.problems), "total", "max_score", "status"]
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".gradebook.", suffix=".csv")
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out / "gradebook.csv")
    return rows


def summarize(out: Path, spec, students: list[str]) -> dict:
    results = {n: r for n in students if (r := read_record(out, n)) is not None}
    scores = [r["score"] for r in results.values()]
    statuses: dict[str, int] = {}
    for r in results.values():
        statuses[r.get("status", "?")] = statuses.get(r.get("status", "?"), 0) + 1
    slowest = sorted(((r.get("execution_time", 0.0), n) for n, r in results.items()),
                     reverse=True)[:5]
    return {"assignment": spec.id, "students": len(students), "graded": len(results),
            "statuses": statuses, "max_score": spec.max_score,
            "mean": statistics.fmean(scores) if scores else 0.0,
            "median": statistics.median(scores) if scores else 0.0,
            "slowest": [{"student": n, "seconds": round(t, 2)} for t, n in slowest],
            "out": str(out)}
