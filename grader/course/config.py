"""Assignment configuration: ``solutions/<id>/assignment.yaml``, validated on load.

Every error names the file, the key and (where there is one) the problem, so an instructor can
fix a typo without reading a traceback.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.course.gradescope_options import GradescopeOptions
from grader.course.gradescope_options import parse as parse_gradescope
from grader.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
ID_PATTERN = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class Limits:
    call_timeout: float = 10.0   # seconds for one call into student code
    total_timeout: float = 300.0  # seconds for a whole submission
    memory_mb: int = 1024        # address space of the worker
    output_kb: int = 64          # student output kept per test
    max_speed_ratio: float = 3.0  # default limit of bench.compare (student / reference time)


@dataclass(frozen=True)
class Problem:
    id: str
    title: str
    points: float


@dataclass(frozen=True)
class Cuda:
    """The assignment's numba-cuda files: their own worker (the simulator without a GPU), a
    compile check for a real GPU target, and timing on a GPU."""
    files: tuple[str, ...] = ()
    compute_capability: tuple[int, int] = (7, 5)  # the compile check's target (cu13: >= 7.5)
    gpu_speed_ratio: float = 2.0  # default limit of gpu_bench.compare (student / reference)

    @property
    def modules(self) -> list[str]:
        return [Path(f).stem for f in self.files]


@dataclass(frozen=True)
class Timing:
    """What ``grader check`` times for a timed problem (``timing:`` in assignment.yaml): the
    student's ``function`` on the hidden timing test's shape, against a yardstick (one plain
    matmul with the same ``multiply_adds``). ``good`` is how many yardsticks a good
    implementation takes (calibrated on the reference: benchmarks/bench_yardstick.py), ``limit``
    the hidden test's limit (student / reference). Nothing here gives a solution away."""

    problem: str
    function: str
    args: list
    kwargs: dict
    multiply_adds: float
    good: float
    limit: float
    setup: dict | None = None  # an untimed call first: {function, args, kwargs}

    def describe(self) -> str:
        """``conv2d_forward(2x16x32x32, 32x16x3x3, 32, stride=1, padding=1)``."""
        def show(value):
            if isinstance(value, dict) and "random" in value:
                return "x".join(str(n) for n in value["random"]) or "scalar"
            if isinstance(value, dict) and "setup" in value:
                name = self.setup["function"] if self.setup else "setup"
                return f"{name}(...)" + ("" if value["setup"] is None else f"[{value['setup']}]")
            if isinstance(value, list):
                return "[" + ", ".join(show(v) for v in value) + "]"
            return repr(value)
        parts = [show(a) for a in self.args] + [f"{k}={show(v)}" for k, v in self.kwargs.items()]
        return f"{self.function}({', '.join(parts)})"


@dataclass(frozen=True)
class Assignment:
    id: str
    title: str
    files: tuple[str, ...]
    problems: tuple[Problem, ...]
    limits: Limits = field(default_factory=Limits)
    title_zh: str = ""
    seed: int = 0
    root: Path = Path(".")  # the folder holding assignment.yaml
    provided: tuple[str, ...] = ()  # helper modules given to students, read-only in effect
    cuda: Cuda = field(default_factory=Cuda)
    gradescope: GradescopeOptions = field(default_factory=GradescopeOptions)  # `gradescope:`
    timing: tuple[Timing, ...] = ()  # what `grader check` times (timed problems)

    @property
    def modules(self) -> list[str]:
        return [Path(f).stem for f in self.files]

    @property
    def host_modules(self) -> list[str]:
        """The student's modules that run in the ordinary (NumPy) worker."""
        return [m for m in self.modules if m not in self.cuda.modules]

    @property
    def provided_modules(self) -> list[str]:
        return [Path(f).stem for f in self.provided]

    @property
    def max_score(self) -> float:
        return sum(p.points for p in self.problems)

    def problem(self, problem_id: str) -> Problem | None:
        return next((p for p in self.problems if p.id == problem_id), None)

    # Instructor-side folders (absent from a student release).
    @property
    def public_tests(self) -> Path:
        released = self.root / "tests"
        return self.root / "tests" / "public" if (self.root / "tests" / "public").is_dir() \
            else released

    @property
    def hidden_tests(self) -> Path:
        return self.root / "tests" / "hidden"


_TOP_KEYS = {"id": str, "title": str, "title_zh": str, "files": list, "provided": list,
             "problems": list, "limits": dict, "seed": int, "timing": list, "cuda": dict,
             "gradescope": dict}
_REQUIRED = ("id", "title", "files", "problems")
_PROBLEM_KEYS = {"id": str, "title": str, "points": (int, float)}
_CUDA_KEYS = {"files": list, "compute_capability": list, "gpu_speed_ratio": (int, float)}
_TIMING_KEYS = {"problem": str, "function": str, "args": list, "kwargs": dict, "setup": dict,
                "multiply_adds": (int, float), "good": (int, float), "limit": (int, float)}
_TIMING_REQUIRED = ("problem", "function", "args", "multiply_adds", "good", "limit")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LIMIT_KEYS = {"call_timeout": (int, float), "total_timeout": (int, float),
               "memory_mb": int, "output_kb": int, "max_speed_ratio": (int, float)}


def _type_name(t) -> str:
    names = {str: "a string", int: "an integer", list: "a list", dict: "a mapping",
             (int, float): "a number"}
    return names.get(t, str(t))


def _check_type(path, key, value, expected):
    ok = isinstance(value, expected) and not isinstance(value, bool)
    if not ok:
        raise ConfigError(f"{path}: `{key}` must be {_type_name(expected)}, "
                          f"got {type(value).__name__} {value!r}")


def load_assignment(path: Path | str, *, require_sources: bool = True) -> Assignment:
    """Load and validate ``assignment.yaml`` (or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "assignment.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: no such assignment config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{path}: unknown key `{key}` (known: {', '.join(_TOP_KEYS)})")
        _check_type(path, key, data[key], _TOP_KEYS[key])
    for key in _REQUIRED:
        if key not in data:
            raise ConfigError(f"{path}: missing required key `{key}`")
    if not ID_PATTERN.match(data["id"]):
        raise ConfigError(f"{path}: `id` {data['id']!r} may use only a-z, 0-9 and _")
    if data["id"] != path.parent.name and require_sources:
        raise ConfigError(f"{path}: `id` {data['id']!r} does not match its folder "
                          f"{path.parent.name!r}")

    files = data["files"]
    if not files:
        raise ConfigError(f"{path}: `files` must list at least one student file")
    for i, name in enumerate(files):
        if not isinstance(name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*\.py$", name):
            raise ConfigError(f"{path}: `files[{i}]` {name!r} must be a Python file name "
                              "like graph.py")
        if require_sources and not (path.parent / name).is_file():
            raise ConfigError(f"{path}: `files[{i}]` {name!r}: the reference solution "
                              f"{path.parent / name} does not exist")
    if len(set(files)) != len(files):
        raise ConfigError(f"{path}: `files` lists a file twice")
    provided = data.get("provided", [])
    for i, name in enumerate(provided):
        if not isinstance(name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*\.py$", name):
            raise ConfigError(f"{path}: `provided[{i}]` {name!r} must be a Python file name")
        if name in files:
            raise ConfigError(f"{path}: `provided[{i}]` {name!r} is also a student file")
        if require_sources and not (path.parent / name).is_file():
            raise ConfigError(f"{path}: `provided[{i}]` {name!r}: {path.parent / name} does not "
                              "exist")

    problems = []
    for i, raw in enumerate(data["problems"]):
        where = f"{path}: `problems[{i}]`"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a mapping with id, title and points")
        label = f"{where} ({raw.get('id', '?')})"
        for key in raw:
            if key not in _PROBLEM_KEYS:
                raise ConfigError(f"{label}: unknown key `{key}` "
                                  f"(known: {', '.join(_PROBLEM_KEYS)})")
            _check_type(label, key, raw[key], _PROBLEM_KEYS[key])
        for key in _PROBLEM_KEYS:
            if key not in raw:
                raise ConfigError(f"{label}: missing required key `{key}`")
        if not ID_PATTERN.match(raw["id"]):
            raise ConfigError(f"{label}: `id` may use only a-z, 0-9 and _")
        if raw["points"] <= 0:
            raise ConfigError(f"{label}: `points` must be positive")
        if any(p.id == raw["id"] for p in problems):
            raise ConfigError(f"{label}: duplicate problem id {raw['id']!r}")
        problems.append(Problem(raw["id"], raw["title"], float(raw["points"])))
    if not problems:
        raise ConfigError(f"{path}: `problems` must list at least one problem")

    limits = data.get("limits", {})
    for key, value in limits.items():
        if key not in _LIMIT_KEYS:
            raise ConfigError(f"{path}: unknown key `limits.{key}` "
                              f"(known: {', '.join(_LIMIT_KEYS)})")
        _check_type(path, f"limits.{key}", value, _LIMIT_KEYS[key])
        if value <= 0:
            raise ConfigError(f"{path}: `limits.{key}` must be positive")

    timing = tuple(_load_timing(path, i, raw, problems)
                   for i, raw in enumerate(data.get("timing", [])))
    gradescope = parse_gradescope(path, data.get("gradescope", {}), [p.id for p in problems])
    return Assignment(id=data["id"], title=data["title"], files=tuple(files),
                      provided=tuple(provided), timing=timing, gradescope=gradescope,
                      cuda=_load_cuda(path, data.get("cuda", {}), files),
                      problems=tuple(problems), limits=Limits(**limits),
                      title_zh=data.get("title_zh", ""), seed=data.get("seed", 0),
                      root=path.parent.resolve())


def _load_cuda(path, raw: dict, files) -> Cuda:
    for key, value in raw.items():
        if key not in _CUDA_KEYS:
            raise ConfigError(f"{path}: unknown key `cuda.{key}` (known: {', '.join(_CUDA_KEYS)})")
        _check_type(path, f"cuda.{key}", value, _CUDA_KEYS[key])
    cuda_files = raw.get("files", [])
    for i, name in enumerate(cuda_files):
        if name not in files:
            raise ConfigError(f"{path}: `cuda.files[{i}]` {name!r} is not one of the student "
                              f"files {list(files)}")
    cc = raw.get("compute_capability", [7, 5])
    if len(cc) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in cc) \
            or tuple(cc) < (7, 5):
        raise ConfigError(f"{path}: `cuda.compute_capability` must be [major, minor], at least "
                          f"[7, 5] (the CUDA 13 compiler's oldest target), got {cc!r}")
    ratio = raw.get("gpu_speed_ratio", 2.0)
    if ratio <= 0:
        raise ConfigError(f"{path}: `cuda.gpu_speed_ratio` must be positive")
    return Cuda(files=tuple(cuda_files), compute_capability=(cc[0], cc[1]),
                gpu_speed_ratio=float(ratio))
def _check_timing_arg(where: str, value, *, has_setup: bool) -> None:
    """An argument of a timed call: ``{random: shape, scale: s}`` (a random float64 array),
    ``{setup: i}`` (element ``i`` of the setup call's result; ``null``: all of it), a list of
    arguments, or a plain number, string, boolean or null."""
    if isinstance(value, list):
        for item in value:
            _check_timing_arg(where, item, has_setup=has_setup)
    elif isinstance(value, dict):
        if "random" in value and set(value) <= {"random", "scale"}:
            shape = value["random"]
            if not isinstance(shape, list) or not all(
                    isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 100_000
                    for n in shape):
                raise ConfigError(f"{where}: `random` must be a list of positive sizes")
            if isinstance(value.get("scale", 1.0), bool) or \
                    not isinstance(value.get("scale", 1.0), (int, float)):
                raise ConfigError(f"{where}: `scale` must be a number")
        elif set(value) == {"setup"}:
            if not has_setup:
                raise ConfigError(f"{where}: `setup` refers to a setup call; add `setup:`")
            if value["setup"] is not None and (not isinstance(value["setup"], int)
                                               or isinstance(value["setup"], bool)):
                raise ConfigError(f"{where}: `setup` must be an index or null")
        else:
            raise ConfigError(f"{where}: an argument mapping must be {{random: shape, "
                              f"scale: s}} or {{setup: index}}, got {value!r}")
    elif not (value is None or isinstance(value, (int, float, str, bool))):
        raise ConfigError(f"{where}: unsupported argument {value!r}")


def _load_timing(path, i, raw, problems) -> Timing:
    where = f"{path}: `timing[{i}]`"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping (problem, function, args, ...)")
    for key in raw:
        if key not in _TIMING_KEYS:
            raise ConfigError(f"{where}: unknown key `{key}` (known: {', '.join(_TIMING_KEYS)})")
        _check_type(where, key, raw[key], _TIMING_KEYS[key])
    for key in _TIMING_REQUIRED:
        if key not in raw:
            raise ConfigError(f"{where}: missing required key `{key}`")
    if not any(p.id == raw["problem"] for p in problems):
        raise ConfigError(f"{where}: `problem` {raw['problem']!r} is not one of the problems")
    setup = raw.get("setup")
    names = [raw["function"]] + ([setup.get("function")] if setup else [])
    if setup is not None and (set(setup) - {"function", "args", "kwargs"} or
                              not isinstance(setup.get("args", []), list) or
                              not isinstance(setup.get("kwargs", {}), dict)):
        raise ConfigError(f"{where}: `setup` must be {{function, args, kwargs}}")
    if not all(isinstance(n, str) and _NAME.match(n) for n in names):
        raise ConfigError(f"{where}: `function` must name a function of the student's files")
    for key in ("multiply_adds", "good", "limit"):
        if raw[key] <= 0:
            raise ConfigError(f"{where}: `{key}` must be positive")
    for args in (raw["args"], list(raw.get("kwargs", {}).values()),
                 *([setup.get("args", []), list(setup.get("kwargs", {}).values())]
                   if setup else [])):
        _check_timing_arg(where, args, has_setup=setup is not None)
    return Timing(raw["problem"], raw["function"], raw["args"], raw.get("kwargs", {}),
                  float(raw["multiply_adds"]), float(raw["good"]), float(raw["limit"]),
                  setup=None if setup is None else {"function": setup["function"],
                                                    "args": setup.get("args", []),
                                                    "kwargs": setup.get("kwargs", {})})


def solutions_dir() -> Path:
    """The instructor's assignments: GRADER_SOLUTIONS, else the repository's solutions/."""
    return Path(os.environ.get("GRADER_SOLUTIONS") or REPO_ROOT / "solutions")


def find_assignment(assignment_id: str, *, solutions: Path | None = None) -> Assignment:
    """The instructor-side assignment ``assignment_id`` (reference, public and hidden tests)."""
    root = Path(solutions) if solutions else solutions_dir()
    if not ID_PATTERN.match(assignment_id or ""):
        raise ConfigError(f"{assignment_id!r} is not an assignment id")
    folder = root / assignment_id
    if not (folder / "assignment.yaml").is_file():
        known = sorted(p.parent.name for p in root.glob("*/assignment.yaml"))
        raise ConfigError(f"no assignment {assignment_id!r} in {root}"
                          + (f" (known: {', '.join(known)})" if known else ""))
    return load_assignment(folder)
