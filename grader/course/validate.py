"""``grader validate <id>``: prove an assignment's test suite does its job.

- every test file collects (a syntax error or a failing import is named with file and line;
  an invalid suite, e.g. points that do not add up, is said once per problem, and then
  nothing else is judged);
- the reference solution scores full marks;
- the generated skeleton (``assignments/<id>/``) scores zero;
- every mutant (``solutions/<id>/mutants/<name>.yaml``: exact text replacements in a reference
  file) fails each test named in its ``caught_by`` and so loses points.

Mutants are graded with only their ``caught_by`` tests, which keeps validation fast.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.course.config import find_assignment
from grader.course.release import default_release
from grader.errors import ConfigError, SubmissionError
from grader.harness.supervisor import grade_local

_MUTANT_KEYS = {"description", "file", "replace", "caught_by"}


@dataclass
class Mutant:
    name: str
    description: str
    file: str
    replace: list[tuple[str, str]]
    caught_by: list[str]
    path: Path = field(default=Path("."))

    def build(self, reference_dir: Path, files, into: Path) -> Path:
        """Write the reference files with this mutant's replacements applied into ``into``."""
        into.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copy(reference_dir / name, into / name)
        target = into / self.file
        text = target.read_text(encoding="utf-8")
        for i, (old, new) in enumerate(self.replace):
            count = text.count(old)
            if count != 1:
                raise ConfigError(f"{self.path}: `replace[{i}].old` occurs {count} times in "
                                  f"{self.file}; it must occur exactly once")
            text = text.replace(old, new)
        target.write_text(text, encoding="utf-8")
        return into


def load_mutants(assignment) -> list[Mutant]:
    folder = assignment.root / "mutants"
    mutants = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping")
        unknown = set(data) - _MUTANT_KEYS
        missing = _MUTANT_KEYS - set(data)
        if unknown or missing:
            raise ConfigError(f"{path}: " + "; ".join(
                [f"unknown key `{k}`" for k in sorted(unknown)]
                + [f"missing key `{k}`" for k in sorted(missing)]))
        if data["file"] not in assignment.files:
            raise ConfigError(f"{path}: `file` {data['file']!r} is not one of the student files "
                              f"{list(assignment.files)}")
        pairs = data["replace"]
        if not isinstance(pairs, list) or not pairs or not all(
                isinstance(p, dict) and set(p) == {"old", "new"}
                and all(isinstance(v, str) for v in p.values()) for p in pairs):
            raise ConfigError(f"{path}: `replace` must be a list of {{old, new}} strings")
        caught = data["caught_by"]
        if not isinstance(caught, list) or not caught or \
                not all(isinstance(c, str) for c in caught):
            raise ConfigError(f"{path}: `caught_by` must list test function names")
        mutants.append(Mutant(path.stem, str(data["description"]), data["file"],
                              [(p["old"], p["new"]) for p in pairs], caught, path))
    return mutants


@dataclass
class Check:
    what: str
    ok: bool
    detail: str


def validate(assignment_id: str, *, solutions=None, release_dir=None, mutants=True,
             progress=None) -> list[Check]:
    """Grade the reference, the skeleton and every mutant; return one Check per claim."""
    spec = find_assignment(assignment_id, solutions=solutions)
    release = Path(release_dir) if release_dir else default_release(spec.root)
    checks = []

    def note(check):
        checks.append(check)
        if progress:
            progress(check)

    ref = grade_local(spec, spec.root)
    errors = ref.get("suite_errors", [])
    uncollected = [e[len("cannot collect "):] for e in errors if e.startswith("cannot collect ")]
    files = sorted(spec.public_tests.glob("test_*.py")) + sorted(spec.hidden_tests.glob("test_*.py"))
    note(Check("every test file collects", not uncollected,
               "; ".join(uncollected) if uncollected else f"{len(files)} test files"))
    if errors:  # the suite itself is wrong: said once, and nothing else can be judged
        note(Check("reference scores full marks", False, "the test suite is invalid:"
                   + "".join(f"\n  {e}" for e in errors)))
        return checks
    lost = [f"{t['name']} ({t['kind']}): {t['output'][:300]}" for t in ref["tests"]
            if t["status"] != "passed"]
    note(Check("reference scores full marks", ref["score"] == ref["max_score"] and not lost,
               f"{ref['score']:g}/{ref['max_score']:g}" + "".join(f"\n  {x}" for x in lost)))
    if release.is_dir():
        try:
            skel = grade_local(spec, release)
        except SubmissionError as e:  # e.g. the release lacks a student file
            note(Check("skeleton scores zero", False, f"{release}: {e}"))
        else:
            passing = [t["name"] for t in skel["tests"] if t["status"] == "passed"]
            note(Check("skeleton scores zero", skel["score"] == 0,
                       f"{skel['score']:g}/{skel['max_score']:g}"
                       + (f"; passes {', '.join(passing)}" if passing else "")))
    else:
        note(Check("skeleton scores zero", False, f"{release} does not exist: run "
                   f"`grader release {spec.id}`"))
    for mutant in load_mutants(spec) if mutants else []:
        with tempfile.TemporaryDirectory(prefix="grader-mutant-") as tmp:
            sub = mutant.build(spec.root, spec.files, Path(tmp) / mutant.name)
            res = grade_local(spec, sub, only=mutant.caught_by)
        failed = {t["name"].split("[")[0] for t in res["tests"] if t["status"] != "passed"}
        ran = {t["name"].split("[")[0] for t in res["tests"]}
        missing = [c for c in mutant.caught_by if c not in ran]
        survived = [c for c in mutant.caught_by if c in ran and c not in failed]
        detail = mutant.description
        if missing:
            detail += f"; no such test: {', '.join(missing)}"
        if survived:
            detail += f"; passes {', '.join(survived)}"
        kinds = sorted({t["kind"] for t in res["tests"]} - {"passed"})
        note(Check(f"mutant {mutant.name} is caught", not missing and not survived,
                   detail + (f" [{', '.join(kinds)}]" if kinds else "")))
    return checks
