"""The body of gpu/check.sh: sandbox probe, CUDA examples graded on the GPU, a compact report."""
from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="gpu/check.sh")
    parser.add_argument("--simulate", action="store_true",
                        help="no GPU: run the GPU-only tests on numba-cuda's simulator")
    parser.add_argument("--only", default="", help="comma-separated assignment/example names")
    return parser.parse_args(argv)


def probe_modes(gpu) -> tuple[str | None, list[str]]:
    """The first local sandbox mode that starts a worker here (with the GPU, if any)."""
    from grader.sandbox.local import LocalSandbox, WorkerLimits
    from grader.wire.bridge import WorkerSession

    candidates = (["jail", "uid"] if os.geteuid() == 0 else []) + ["plain"]
    notes = []
    for mode in candidates:
        work = Path(tempfile.mkdtemp(prefix="gpu-check-probe-"))
        (work / "probe.py").write_text("import os\ndef pid():\n    return os.getpid()\n")
        sandbox = session = None
        try:
            sandbox = LocalSandbox(work, WorkerLimits(memory_mb=2048), mode=mode,
                                   gpu=gpu if gpu is not None and not getattr(
                                       gpu, "simulated", False) else None)
            session = WorkerSession(sandbox, ["probe"], load_timeout=60)
            session.call([None, "pid"], (), {}, timeout=60)
            how = sandbox.cgroup.how if sandbox.cgroup else "RLIMIT_AS"
            notes.append(f"{mode}: works (worker memory limit: {how})")
            return mode, notes
        except Exception as e:  # refused namespaces, mounts, uids...
            notes.append(f"{mode}: refused ({type(e).__name__}: {str(e).splitlines()[0][:160]})")
        finally:
            if session is not None:
                session.close()
            if sandbox is not None:
                sandbox.close()
    return None, notes


def cuda_test_names(spec) -> list[str]:
    """The test functions of the assignment's CUDA test files (public and hidden)."""
    names = []
    for folder in (spec.public_tests, spec.hidden_tests):
        for path in sorted(folder.glob("test_*cuda*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names += [n.name for n in tree.body
                      if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    return names


def examples(only: set[str]):
    from grader.course.config import solutions_dir, find_assignment

    for config in sorted(solutions_dir().glob("*/assignment.yaml")):
        spec = find_assignment(config.parent.name)
        if not spec.cuda.files:
            continue
        folder = REPO / "examples" / "submissions" / spec.id
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
            if only and f"{spec.id}/{sub.name}" not in only:
                continue
            if any(_attempted(sub / f, REPO / "assignments" / spec.id / f)
                   for f in spec.cuda.files):
                yield spec, sub


def _attempted(path: Path, skeleton: Path) -> bool:
    """A CUDA file other than the released skeleton (first lines aside: a notice)."""
    if not path.is_file():
        return False
    body = path.read_text(encoding="utf-8").splitlines()[1:]
    return not skeleton.is_file() or body != skeleton.read_text(encoding="utf-8").splitlines()[1:]


def ms(value) -> str:
    return "-" if value is None else f"{value * 1e3:.3g} ms"


def report_row(spec, sub, results, seconds) -> list[str]:
    cuda_problems = {p for t in results["tests"] for p in [t["problem"]]
                     if "cuda" in (p or "")}
    score = sum(t["score"] for t in results["tests"] if t["problem"] in cuda_problems)
    total = sum(t["max_score"] for t in results["tests"] if t["problem"] in cuda_problems)
    failed = [f"{t['name']} [{t['kind']}]" for t in results["tests"]
              if t["problem"] in cuda_problems and t["status"] != "passed"]
    tiled = next((t for t in results["tests"] if t["name"].endswith("_is_tiled")), None)
    speed = next((t for t in results["tests"] if "speed_on_gpu" in t["name"]), None)
    data = (speed or {}).get("extra_data", {})
    lines = [f"{spec.id}/{sub.name}: {score:g}/{total:g} on the CUDA problems, status "
             f"{results['status']} ({seconds:.1f} s)"]
    if tiled is not None:
        lines.append(f"    tiling check: {'tiled' if tiled['status'] == 'passed' else tiled['kind']}"
                     + ("" if tiled["status"] == "passed" else f" - {tiled['output'][:160]}"))
    if speed is not None:
        ratio = data.get("speed_ratio")
        blas = data.get("cublas_seconds")
        lines.append(f"    speed: {speed['kind']}; student {ms(data.get('student_seconds'))}, "
                     f"reference {ms(data.get('reference_seconds'))}, cuBLAS {ms(blas)}; "
                     f"ratio {'-' if ratio is None else f'{ratio:.2f}x'} (limit "
                     f"{data.get('speed_limit', spec.cuda.gpu_speed_ratio):g}x)"
                     + (f", vs cuBLAS {data['cublas_ratio']:.2f}x" if "cublas_ratio" in data
                        else ""))
    for name in failed:
        if speed is None or not name.startswith(speed["name"]):
            lines.append(f"    failed: {name}")
    return lines


def main(argv=None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    if args.simulate:
        os.environ["GRADER_GPU"] = "simulate"
    from grader import api
    from grader.gpu.device import detect, why_not
    from grader.harness.cuda import SimulatedGpu

    gpu = SimulatedGpu() if args.simulate else detect()
    print("== GPU check")
    print(f"python {sys.version.split()[0]} ({sys.executable}); " + ", ".join(_versions()))
    import importlib.util
    if importlib.util.find_spec("numba_cuda") is None:
        print("numba-cuda is not installed for this Python (set PYTHON=... to another one)")
        return 2
    if gpu is None:
        print(f"no GPU: {why_not()}. Run with --simulate to exercise the script without one.")
        return 2
    print(f"device: {gpu.describe()}")
    mode, notes = probe_modes(gpu)
    print("sandbox modes tried: " + "; ".join(notes))
    if mode is None:
        print("no sandbox mode works here")
        return 3
    os.environ["GRADER_SANDBOX_MODE"] = mode
    print(f"grading in sandbox mode: {mode}\n")
    only = {s for s in args.only.split(",") if s}
    bad = 0
    for spec, sub in examples(only):
        start = time.monotonic()
        results = api.grade(sub, assignment=spec.id, only=cuda_test_names(spec))
        print("\n".join(report_row(spec, sub, results, time.monotonic() - start)), flush=True)
        bad += results["status"] == "infrastructure"
    print(f"\n{'all examples graded' if not bad else f'{bad} examples hit a grader problem'} "
          f"in sandbox mode {mode} on {gpu.describe()}")
    return 1 if bad else 0


def _versions():
    from importlib import metadata
    out = []
    for name in ("numpy", "numba", "numba-cuda", "cupy-cuda13x", "cupy-cuda12x", "pytest"):
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            if not name.startswith("cupy"):
                out.append(f"{name} missing")
    return out


if __name__ == "__main__":
    sys.exit(main())
