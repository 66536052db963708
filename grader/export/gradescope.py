"""``grader export gradescope ID --out autograder.zip``: a Gradescope autograder, and its results.

The zip holds:

- ``setup.sh`` (Gradescope runs it once, as root, when it builds the image): a virtual
  environment in ``/opt/nn-grader/venv`` installed from ``wheelhouse/`` with ``--no-index`` (no
  network needed), the assignment copied to ``/opt/nn-grader/solutions`` readable by root only,
  ``/autograder/source`` (which holds it too) closed to everyone else, then the reference graded
  once, so a broken image fails its build rather than its students;
- ``run_autograder`` (run for every submission): :mod:`grader.export.gradescope_run` grades
  ``/autograder/submission`` (module files or a notebook) in jail mode, or in uid mode where
  the container allows no namespaces, and writes ``/autograder/results/results.json``;
- ``wheelhouse/``: the grader's own wheel and the wheels of its declared dependencies
  (``nbformat`` among them, for notebooks), at the versions this host runs, for
  ``python_version``;
- ``solutions/<id>/``: the reference, ``assignment.yaml``, public and hidden tests.

:func:`gradescope_results` turns a ``results.json`` into Gradescope's, honouring the
``gradescope:`` options of ``assignment.yaml`` (test numbers, visibilities,
``stdout_visibility``, leaderboard entries).
"""
from __future__ import annotations

import ast
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from grader.course.config import REPO_ROOT, find_assignment
from grader.errors import ConfigError, GraderError, InfrastructureError

PREFIX = "/opt/nn-grader"
WHEEL_CACHE = Path.home() / ".cache" / "nn-grader" / "gradescope-wheels"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "mutants", ".pytest_cache")


# -- results ---------------------------------------------------------------------------------

def _leaderboard(spec, tests: list[dict]) -> list[dict]:
    entries = []
    for entry in spec.gradescope.leaderboard:
        for test in tests:
            if test["name"] == entry.test or test["name"].split("[")[0] == entry.test:
                value = test.get("extra_data", {}).get(entry.value)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    entries.append({"name": entry.name, "value": value, "order": entry.order})
                break  # the first test of that name; no value, no entry (nothing was measured)
    return entries


def gradescope_results(results: dict, spec) -> dict:
    """``results.json`` as Gradescope reads it, with the assignment's ``gradescope:`` options.

    Each test gets ``number`` ``<problem number>.<k>``, its visibility (per problem, for the
    hidden suite, or its own), its problem and failure kind as ``tags``; hidden tests keep the
    redacted output the grader gives them. The grader's own fields go in ``extra_data``.
    """
    options = spec.gradescope
    position = {p.id: i for i, p in enumerate(spec.problems, 1)}
    counts: dict[str, int] = {}
    tests = []
    for test in results.get("tests", []):
        problem = test.get("problem")
        counts[problem] = counts.get(problem, 0) + 1
        number = options.number(problem, position.get(problem, len(position) + 1))
        extra = {"problem": problem, "kind": test.get("kind"), **test.get("extra_data", {})}
        tests.append({
            "name": test["name"], "number": f"{number}.{counts[problem]}",
            # Gradescope knows "passed" and "failed": a test pending a GPU run ("pending") is
            # sent as failed, tagged needs_gpu, its output saying its points are not lost.
            "score": test["score"], "max_score": test["max_score"],
            "status": "passed" if test["status"] == "passed" else "failed",
            "output": test.get("output", ""), "output_format": "text",
            "visibility": options.test_visibility(problem, bool(test.get("hidden")),
                                                  test.get("visibility", "visible")),
            "tags": [t for t in (problem, test.get("kind")) if t], "extra_data": extra,
        })
    out = {
        "score": results["score"], "execution_time": results.get("execution_time", 0.0),
        "output": results.get("output", ""), "output_format": "text",
        "visibility": options.visibility, "stdout_visibility": options.stdout_visibility,
        "tests": tests,
        "extra_data": {"assignment": results.get("assignment"), "status": results.get("status"),
                       "max_score": results.get("max_score"),
                       "problems": results.get("problems", {})},
    }
    board = _leaderboard(spec, results.get("tests", []))
    if board:
        out["leaderboard"] = board
    return out


def failure_results(message: str, *, status: str = "infrastructure") -> dict:
    """What run_autograder writes when it could not grade: a message, no score of ours."""
    return {"score": 0.0, "output": message, "output_format": "text", "visibility": "visible",
            "stdout_visibility": "visible", "tests": [], "extra_data": {"status": status}}


# -- the zip ---------------------------------------------------------------------------------

def _test_functions(spec) -> set[str]:
    names = set()
    for folder in (spec.public_tests, spec.hidden_tests):
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else ():
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    return names


def check_options(spec) -> None:
    """What assignment.yaml alone cannot tell: every leaderboard test exists."""
    defined = _test_functions(spec)
    for entry in spec.gradescope.leaderboard:
        if entry.test not in defined:
            raise ConfigError(f"{spec.root / 'assignment.yaml'}: `gradescope.leaderboard` names "
                              f"{entry.test!r}, which no public or hidden test defines")


def _pip(*args: str, what: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise InfrastructureError(f"could not {what}:\n{proc.stderr[-2000:]}")


def _requirements(wheel: Path, extras: tuple[str, ...] = ()) -> list[str]:
    """The grader's own dependencies as its wheel declares them, with those of ``extras``."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zf.read(name).decode("utf-8").splitlines()
    found = []
    for line in lines:
        if not line.startswith("Requires-Dist:"):
            continue
        requirement, _, marker = line.split(":", 1)[1].strip().partition(";")
        extra = re.search(r"""extra\s*==\s*["']([\w.-]+)["']""", marker)
        if extra is None or extra.group(1) in extras:
            found.append(requirement.strip())
    return found


def extras_for(spec) -> tuple[str, ...]:
    """The grader's extras an assignment needs on Gradescope: its CUDA problems need numba-cuda
    (the simulator) and NVVM (the compile check), as the CPU image has them."""
    return ("cuda-compile",) if spec.cuda.files else ()


def _constraints(requirements: list[str]) -> list[str]:
    """Each dependency at the version this host runs (tested together), where it has it."""
    pins = []
    for requirement in requirements:
        name = re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return pins


def _grader_wheel(dest: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="grader-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        shutil.copytree(REPO_ROOT / "grader", src / "grader", ignore=_IGNORE)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(REPO_ROOT / name, src / name)
        _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), str(src),
             what="build the grader's wheel")
    return next(dest.glob("nn_grader-*.whl"))


def wheelhouse(dest: Path, python_version: str, extras: tuple[str, ...] = ()) -> list[str]:
    """The grader's wheel and every wheel it needs (its declared dependencies and those of
    ``extras``, at this host's versions) in ``dest``, for ``python_version``; downloads are
    cached between exports."""
    dest.mkdir(parents=True)
    wheel = _grader_wheel(dest)
    pins = _constraints(_requirements(wheel, extras))
    wanted = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    (dest / "constraints.txt").write_text("\n".join(pins) + "\n")
    cache = WHEEL_CACHE / python_version
    cache.mkdir(parents=True, exist_ok=True)
    target = [] if python_version == _this_python() else [
        "--python-version", python_version, "--platform", "manylinux2014_x86_64",
        "--platform", "manylinux_2_28_x86_64", "--implementation", "cp"]
    # Exactly the wheels the grader resolves to go in the zip; the cache only saves downloads.
    _pip("download", "--quiet", "--only-binary=:all:", "--find-links", str(cache),
         "--find-links", str(dest), "--dest", str(dest), "-c", str(dest / "constraints.txt"),
         *target, wanted, f"pip=={metadata.version('pip')}",
         what="download the wheels for the autograder")
    for found in dest.glob("*.whl"):
        if found != wheel and not (cache / found.name).exists():
            shutil.copy(found, cache / found.name)
    requirements = [f"nn-grader[{','.join(extras)}]" if extras else "nn-grader"]
    (dest / "requirements.txt").write_text("\n".join(requirements) + "\n")
    return requirements + pins


def _this_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (generated by
# `grader export gradescope @ASSIGNMENT@`). Nothing here needs the network.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix=@PREFIX@
python="${GRADER_PYTHON:-python3}"
command -v "$python" >/dev/null || { echo "setup.sh: $python is required" >&2; exit 1; }
want="$(cat "$here/python_version")"
have="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ "$have" != "$want" ]; then
  echo "setup.sh: the wheels are for Python $want but this image has $have;" \
       "export again with --python-version $have" >&2
  exit 1
fi
rm -rf "$prefix" && mkdir -p "$prefix" && chmod 0755 "$prefix"
if ! "$python" -m venv "$prefix/venv" 2>/dev/null; then
  # No ensurepip (Debian's python3 without python3-venv): pip runs from its own wheel.
  rm -rf "$prefix/venv"
  "$python" -m venv --without-pip "$prefix/venv"
  pip_wheel="$(ls "$here"/wheelhouse/pip-*.whl | head -n 1)"
  "$prefix/venv/bin/python" "$pip_wheel/pip" install --quiet --no-index \
      --find-links "$here/wheelhouse" pip
fi
"$prefix/venv/bin/python" -m pip install --quiet --no-index --no-cache-dir \
    --find-links "$here/wheelhouse" -r "$here/wheelhouse/requirements.txt" \
    -c "$here/wheelhouse/constraints.txt"
"$prefix/venv/bin/python" -m compileall -q "$prefix/venv" >/dev/null 2>&1 || true
# The hidden suite and the reference: readable by root only, here and in the source folder.
cp -r "$here/solutions" "$prefix/solutions"
chown -R root:root "$prefix/solutions"
chmod -R go-rwx "$prefix/solutions"
chmod 0700 "$here"
# Grade the reference once: a broken environment fails the image build, not the students.
"$prefix/venv/bin/python" -I -m grader.export.gradescope_run --assignment @ASSIGNMENT@ \
    --solutions "$prefix/solutions" --check-reference
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, in /autograder (generated by
# `grader export gradescope @ASSIGNMENT@`). It always writes /autograder/results/results.json.
exec @PREFIX@/venv/bin/python -I -m grader.export.gradescope_run --assignment @ASSIGNMENT@ \
    --solutions @PREFIX@/solutions --submission /autograder/submission \
    --results /autograder/results/results.json
"""


def _script(text: str, spec) -> str:
    return text.replace("@ASSIGNMENT@", spec.id).replace("@PREFIX@", PREFIX)


def _add_tree(zf: zipfile.ZipFile, folder: Path, prefix: str) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            zf.write(path, f"{prefix}/{path.relative_to(folder).as_posix()}")


def _add_text(zf: zipfile.ZipFile, name: str, text: str, *, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, text)


def build_zip(assignment: str, *, out="autograder.zip", solutions=None,
              python_version: str | None = None, progress=None) -> Path:
    """Write the autograder zip for ``assignment``; return its path."""
    spec = find_assignment(assignment, solutions=solutions)
    check_options(spec)
    python_version = python_version or _this_python()
    out = Path(out)
    if out.suffix != ".zip":
        raise GraderError(f"{out}: the autograder must be a .zip file")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grader-gradescope-") as tmp:
        if progress:
            progress(f"wheels for Python {python_version}")
        wheels = Path(tmp) / "wheelhouse"
        wheelhouse(wheels, python_version, extras_for(spec))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            _add_text(zf, "setup.sh", _script(SETUP_SH, spec), executable=True)
            _add_text(zf, "run_autograder", _script(RUN_AUTOGRADER, spec), executable=True)
            _add_text(zf, "python_version", python_version + "\n")
            _add_tree(zf, wheels, "wheelhouse")
            solutions_copy = Path(tmp) / "solutions" / spec.id
            shutil.copytree(spec.root, solutions_copy, ignore=_IGNORE)
            _add_tree(zf, solutions_copy, f"solutions/{spec.id}")
        tmp_out = out.with_name(f".{out.name}.tmp")
        tmp_out.write_bytes(buf.getvalue())
        os.replace(tmp_out, out)
    return out
