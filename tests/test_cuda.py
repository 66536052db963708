"""CUDA problems: the compile check believes only what it compiled itself, the simulator keeps a
GPU's rules, GPU-only tests are pending (never scored) without a GPU.

Attacks: a student module that rewrites its own file at import, or patches numba's compiler
inside its own process, or runs code at import that the compile check would execute if it
imported the file; each is shown to fail against the defence, which a removed defence would let
through (see each test's comment)."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import api, batch
from grader.course.config import find_assignment
from grader.errors import ConfigError, GraderError
from grader.gpu import ptx
from grader.gpu.compile_check import check_kernel
from grader.gpu.device import detect
from grader.untrusted import cudasim
from tests.conftest import REPO, write_files

pytest.importorskip("numba_cuda", reason="the CUDA tests need numba-cuda (pip install "
                    "'nn-grader[cuda]')")

REFERENCE = (REPO / "solutions" / "hw2_mlp" / "linear_cuda.py").read_text()
SIG = "void(float64[:, :], float64[:, :], float64[:], float64[:, :])"
UNTILED_KERNEL = '''
@cuda.jit
def linear_kernel(x, W, b, out):
    col, row = cuda.grid(2)
    if row < out.shape[0] and col < out.shape[1]:
        acc = b[col]
        for k in range(x.shape[1]):
            acc += x[row, k] * W[k, col]
        out[row, col] = acc
'''
HOST = '''
def linear_forward_cuda(x, W, b):
    out = cuda.device_array((x.shape[0], W.shape[1]))
    blocks, threads = launch_config(x.shape[0], W.shape[1])
    linear_kernel[blocks, threads](cuda.to_device(x), cuda.to_device(W), cuda.to_device(b), out)
    return out.copy_to_host()
'''
PRELUDE = '''
import math
import numpy as np
from numba import cuda, float64

TILE = 16


def launch_config(N, H):
    return (math.ceil(H / TILE), math.ceil(N / TILE)), (TILE, TILE)
'''
CUDA_TESTS = ["test_linear_cuda_small", "test_linear_kernel_compiles_for_gpu",
              "test_linear_kernel_is_tiled"]


def compile_linear(source):
    return check_kernel(source, "linear_cuda.py", "linear_kernel", SIG, (7, 5),
                        launched_by="linear_forward_cuda")


SKELETONS = {name: (REPO / "assignments" / "hw2_mlp" / name).read_text()
             for name in ("perceptron.py", "mlp.py", "sgd.py", "linear_cuda.py")}


def submission(folder, linear_cuda: str | None = None):
    """A hw2 submission: the released skeletons, with ``linear_cuda`` as linear_cuda.py."""
    files = dict(SKELETONS, **({"linear_cuda.py": linear_cuda} if linear_cuda else {}))
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def grade_linear(tmp_path, source, tests=CUDA_TESTS):
    sub = submission(tmp_path / "sub", source)
    results = api.grade(sub, assignment="hw2_mlp", only=tests)
    return {t["name"]: t for t in results["tests"]}, results


# -- the compile check ------------------------------------------------------------------------

def test_the_reference_compiles_and_its_ptx_is_tiled():
    report = compile_linear(REFERENCE)
    assert report["ok"], report["message"]
    figures = ptx.analyze(report["ptx"])
    assert figures.tiled and figures.shared_bytes == 2 * 16 * 16 * 8 and figures.barriers >= 2
    assert ptx.tiling_problems("linear_kernel", figures) == []


def test_an_untiled_kernel_compiles_but_is_not_tiled():
    report = compile_linear(PRELUDE + UNTILED_KERNEL + HOST)
    assert report["ok"], report["message"]
    problems = ptx.tiling_problems("linear_kernel", ptx.analyze(report["ptx"]))
    assert any("no shared memory" in p for p in problems)
    assert any("no barrier" in p for p in problems)


@pytest.mark.parametrize("change, reason", [
    (("acc = 0.0", "acc = np.zeros(1)[0]"), "it calls numpy.zeros"),
    (("acc = 0.0", "acc = helper(0.0)"), "it calls helper, a plain Python function"),
    (("acc = 0.0", "acc = [0.0][0]"), "lists and dicts"),
    (("TILE = 16", "TILE = int('16')"), "it uses TILE, a module-level name that is not a literal"),
    (("        out[row, col] = acc + b[col]", "        return acc"), "cannot return a value"),
    (("acc = 0.0", "try:\n        acc = 0.0\n    except Exception:\n        acc = 1.0"),
     "try/except is not supported"),
    (("x_tile = cuda.shared.array((TILE, TILE), float64)",
      "x_tile = cuda.shared.array((x.shape[0], TILE), float64)"), "need a constant shape"),
])
def test_a_kernel_a_gpu_rejects_fails_with_the_reason(change, reason):
    source = REFERENCE.replace(*change) + "\n\ndef helper(v):\n    return v\n"
    report = compile_linear(source)
    assert not report["ok"] and report["stage"] == "compile"
    assert reason in report["message"], report["message"]


def test_the_rules_of_the_check_are_stated():
    assert "defines other kernels (spare)" in compile_linear(
        REFERENCE + "\n@cuda.jit\ndef spare(a):\n    pass\n")["message"]
    assert "must launch linear_kernel itself" in compile_linear(
        REFERENCE.replace("linear_kernel[blocks, threads](d_x, d_W, d_b, d_out)", "pass"))["message"]
    assert "defines no function linear_kernel" in compile_linear("x = 1\n")["message"]
    assert compile_linear("def f(:\n")["stage"] == "source"


def test_a_device_function_compiles_without_a_gpu():
    source = REFERENCE.replace("out[row, col] = acc + b[col]", "out[row, col] = add(acc, b[col])")
    report = compile_linear(source + "\n\n@cuda.jit(device=True)\ndef add(a, c):\n    return a + c\n")
    assert report["ok"], report["message"]


def test_the_compile_check_never_runs_the_source(tmp_path):
    """If the check imported or exec'd the file, the marker would exist (and the loop hang)."""
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').close()\n" + REFERENCE + "\nwhile True:\n    pass\n"
    report = compile_linear(source)
    assert report["ok"], report["message"]
    assert not marker.exists()


def test_static_shared_memory_over_48_kib_is_a_limit_problem():
    report = compile_linear(REFERENCE.replace("TILE = 16", "TILE = 64"))  # 2 x 32 KiB
    figures = ptx.analyze(report["ptx"])
    assert figures.shared_bytes == 65536
    assert "at most 49152 bytes" in ptx.limit_problems("linear_kernel", figures)[0]


# -- attacks through the grading path -------------------------------------------------------

def test_a_module_that_rewrites_itself_at_import_is_judged_as_submitted(tmp_path, sandbox_mode):
    """The submitted kernel uses np.dot; at import it replaces its own file with the reference.
    The compile check must see the file as submitted (read before any student code ran), so
    it fails; reading the file when compiling would see the reference and pass."""
    bad = REFERENCE.replace("""for i in range(TILE):
            acc += x_tile[ty, i] * w_tile[i, tx]""", "acc += np.dot(x_tile[ty, :], w_tile[:, tx])")
    source = bad + textwrap.dedent(f"""
        with open(__file__, "w") as _f:
            _f.write({REFERENCE!r})
        """)
    tests, _ = grade_linear(tmp_path, source)
    assert tests["test_linear_cuda_small"]["status"] == "passed"  # it ran, in the simulator
    assert tests["test_linear_kernel_compiles_for_gpu"]["kind"] == "wrong_answer"
    assert "numpy.dot" in tests["test_linear_kernel_compiles_for_gpu"]["output"]


def test_patching_numba_in_the_student_process_cannot_forge_the_ptx(tmp_path, sandbox_mode):
    """An untiled kernel whose module replaces numba's compile_ptx with one returning PTX full
    of shared memory and barriers: the compile runs in another process, so the kernel is still
    not tiled. (Compiling in the student's worker would believe the forgery.)"""
    forged = textwrap.dedent('''
        import numba.cuda as _c
        _FAKE = (".shared .align 8 .b8 s[2048];\\nst.shared.f64 [s], 0d0;\\n"
                 "ld.shared.f64 %fd1, [s];\\nbar.sync 0;\\n")
        _c.compile_ptx = lambda *a, **k: (_FAKE, None)
        ''')
    tests, _ = grade_linear(tmp_path, PRELUDE + forged + UNTILED_KERNEL + HOST)
    assert tests["test_linear_cuda_small"]["status"] == "passed"
    assert tests["test_linear_kernel_compiles_for_gpu"]["status"] == "passed"
    assert tests["test_linear_kernel_is_tiled"]["kind"] == "wrong_answer"
    assert "declares no shared memory" in tests["test_linear_kernel_is_tiled"]["output"]


# -- the simulator made to keep a GPU's rules ---------------------------------------------

def run_simulated(code: str, *, prepare: bool = True) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with the simulator on (and the worker's patches)."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "MALLOC_ARENA_MAX": "2",
           "PYTHONPATH": str(REPO)}
    head = "from grader.untrusted import cudasim\ncudasim.prepare()\n" if prepare else ""
    return subprocess.run([sys.executable, "-c", head + textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=120)


SAME_LINE = """
    import numpy as np
    from numba import cuda, float64

    @cuda.jit
    def k(a, b, out):
        sa, sb = cuda.shared.array(4, float64), cuda.shared.array(4, float64)
        i = cuda.threadIdx.x
        sa[i], sb[i] = a[i], b[i]
        cuda.syncthreads()
        out[i] = sa[i] - sb[i]

    out = np.zeros(4)
    k[1, 4](np.ones(4), np.zeros(4), out)
    print(out.tolist())
"""


def test_two_shared_arrays_on_one_line_stay_apart():
    assert run_simulated(SAME_LINE).stdout.strip() == "[1.0, 1.0, 1.0, 1.0]"
    # Without the worker's fix the simulator hands both the same memory (a - a = 0).
    assert run_simulated(SAME_LINE, prepare=False).stdout.strip() == "[0.0, 0.0, 0.0, 0.0]"


def test_shared_memory_starts_as_nan_so_a_read_before_a_write_shows():
    code = """
        import numpy as np
        from numba import cuda, float64

        @cuda.jit
        def k(out):
            s = cuda.shared.array(8, float64)
            out[0] = s[3]

        out = np.zeros(1)
        k[1, 1](out)
        print(np.isnan(out[0]))
    """
    assert run_simulated(code).stdout.strip() == "True"


@pytest.mark.parametrize("launch, message", [
    ("k[1, (32, 33)](out)", "1056 threads: a GPU runs at most 1024"),
    ("k[1, (1, 1, 65)](out)", "blockDim.z = 65: a GPU allows at most 64"),
    ("k[(0, 1), 1](out)", "gridDim.x = 0"),
])
def test_launches_a_gpu_refuses_are_refused(launch, message):
    code = f"""
        import numpy as np
        from numba import cuda

        @cuda.jit
        def k(out):
            pass

        out = np.zeros(1)
        try:
            {launch}
        except Exception as e:
            print(type(e).__name__, e)
    """
    out = run_simulated(code).stdout
    assert "LaunchError" in out and message in out, out
    assert "LaunchError" not in run_simulated(code, prepare=False).stdout


def test_shared_memory_over_48_kib_is_refused_in_the_simulator():
    out = run_simulated("""
        import numpy as np
        from numba import cuda, float64

        @cuda.jit
        def k(out):
            a = cuda.shared.array((64, 64), float64)
            b = cuda.shared.array((64, 64), float64)
            a[0, 0] = 1.0
            b[0, 0] = 1.0
            out[0] = a[0, 0] + b[0, 0]

        try:
            k[1, 1](np.zeros(1))
        except Exception as e:
            print(type(e).__name__, e)
    """).stdout
    assert "LaunchError" in out and "65536 bytes" in out, out


BARRIERS = """
    import threading
    import numpy as np
    from numba import cuda, float64

    @cuda.jit
    def k(a, out, counts, os_threads):
        s = cuda.shared.array(64, float64)
        i = cuda.threadIdx.x
        if i >= a.shape[0]:
            return  # an early return: the others' barriers must not wait for it
        s[i] = a[i]
        cuda.syncthreads()
        out[i] = s[(i + 1) % a.shape[0]]  # a neighbour's value: right only after the barrier
        counts[i] = cuda.syncthreads_count(i % 2 == 0)
        os_threads[i] = threading.active_count()

    a = np.arange(50.0)
    out, counts, threads = np.zeros(50), np.zeros(50), np.zeros(50)
    k[1, 64](a, out, counts, threads)
    print((out == np.roll(a, -1)).all(), set(counts.tolist()), int(threads.max()))
"""


def test_a_block_runs_as_greenlets_with_the_simulators_barrier_rules():
    # Each thread sees its neighbour's value (the barrier held), an early return does not
    # hang the others, syncthreads_count counts the live threads, and no OS thread was started
    # (the simulator's own run starts one per CUDA thread: 65 here).
    assert run_simulated(BARRIERS).stdout.split() == ["True", "{25.0}", "1"]
    threaded = run_simulated(BARRIERS, prepare=False).stdout.split()
    assert threaded[:2] == ["True", "{25.0}"] and int(threaded[2]) > 50


def test_without_greenlet_the_simulators_threads_keep_the_same_rules():
    """Where greenlet is missing (a GPU machine's own Python, say), the worker falls back to an
    OS thread per CUDA thread, with the same barrier rules."""
    out = run_simulated("import sys\nsys.modules['greenlet'] = None\n"
                        "from grader.untrusted import cudasim\ncudasim.prepare()\n"
                        + textwrap.dedent(BARRIERS), prepare=False).stdout.split()
    assert out[:2] == ["True", "{25.0}"] and int(out[2]) > 50, out


def test_a_thread_that_raises_is_named_and_stops_the_launch():
    out = run_simulated("""
        import numpy as np
        from numba import cuda

        @cuda.jit
        def k(out):
            i = cuda.threadIdx.x
            cuda.syncthreads()
            if i == 3:
                raise ValueError("bad thread")
            out[i] = 1.0

        try:
            k[2, 8](np.zeros(8))
        except ValueError as e:
            print("raised:", e)
    """)
    assert "raised: tid=[3, 0, 0] ctaid=[0, 0, 0]: bad thread" in out.stdout, out.stderr


def test_a_missing_barrier_shows_on_every_run():
    # Without cuda.syncthreads() thread 0 reads its neighbour's slot before it was written: the
    # shared array's NaN shows, every time (threads run in order up to a barrier).
    code = """
        import numpy as np
        from numba import cuda, float64

        @cuda.jit
        def k(out):
            s = cuda.shared.array(32, float64)
            i = cuda.threadIdx.x
            s[i] = i
            out[i] = s[(i + 1) % 32]

        runs = []
        for _ in range(5):
            out = np.zeros(32)
            k[1, 32](out)
            runs.append(bool(np.isnan(out[0])))
        print(runs)
    """
    assert run_simulated(code).stdout.strip() == "[True, True, True, True, True]"


def test_check_launch_accepts_the_largest_legal_block():
    cudasim.check_launch((2**31 - 1, 65535, 65535), (1024, 1, 1))
    cudasim.check_launch((1, 1, 1), (32, 32, 1))


# -- GPU-only tests without a GPU -------------------------------------------------------------

@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setenv("GRADER_GPU", "0")
    detect.cache_clear()
    yield
    detect.cache_clear()


def test_a_gpu_test_without_a_gpu_is_pending_never_scored(tmp_path, no_gpu):
    tests, results = grade_linear(tmp_path, REFERENCE, ["test_linear_cuda_speed_on_gpu"])
    speed = tests["test_linear_cuda_speed_on_gpu"]
    assert speed["kind"] == "needs_gpu" and speed["score"] == 0
    assert "GRADER_GPU=0" in speed["output"] and "pending" in speed["output"]
    assert results["status"] == "needs_gpu"
    assert results["pending_gpu"] == {"points": 3.0, "tests": ["test_linear_cuda_speed_on_gpu"]}
    assert "3 points pending a GPU run" in results["output"]
    from grader.results.reports import feedback
    assert "PEND [linear_cuda_speed] test_linear_cuda_speed_on_gpu  0/3" in feedback(results)


def test_a_skeleton_has_nothing_a_gpu_could_time_so_nothing_is_pending(tmp_path, no_gpu):
    """The function raises NotImplementedError: a GPU would not help it."""
    tests, results = grade_linear(tmp_path, SKELETONS["linear_cuda.py"],
                                  ["test_linear_cuda_speed_on_gpu"])
    assert tests["test_linear_cuda_speed_on_gpu"]["kind"] == "error"
    assert results["status"] == "ok" and "pending_gpu" not in results


@pytest.mark.parametrize("source, seen", [
    (REFERENCE.replace("out[row, col] = acc + b[col]", "out[row, col] = acc"),
     "its result was wrong (the dry run's linear_forward_cuda(...)["),
    (REFERENCE.replace("if row < N and k < D else 0.0", ""), "it failed (IndexError: "),
], ids=["wrong_values", "index_error"])
def test_a_gpu_test_without_a_gpu_is_pending_whatever_its_dry_run_computed(tmp_path, no_gpu,
                                                                           source, seen):
    """Without a GPU its points are never lost: the dry run's outcome is only a note (issue 20,
    item 4: a wrong value cost 0/3 here, "on the GPU must be within the limit")."""
    tests, results = grade_linear(tmp_path, source, ["test_linear_cuda_speed_on_gpu"])
    speed = tests["test_linear_cuda_speed_on_gpu"]
    assert speed["kind"] == "needs_gpu" and speed["score"] == 0
    assert "no GPU ran" in speed["output"] and "neither lost nor won" in speed["output"]
    assert f"For information, not scored: on the simulator's tiny inputs {seen}" \
        in speed["output"]
    assert "the value tests of linear_cuda.py grade that" in speed["output"]
    assert results["status"] == "needs_gpu"
    assert results["pending_gpu"] == {"points": 3.0, "tests": ["test_linear_cuda_speed_on_gpu"]}


def test_a_dry_run_that_hangs_costs_at_most_its_own_limit_and_stays_pending(tmp_path, no_gpu):
    """A host function that never returns: the dry run gives up after DRY_RUN_TIMEOUT (20 s,
    not the test's 120 s), and the points are still pending (a GPU run decides them)."""
    from grader.harness.gpu_bench import DRY_RUN_TIMEOUT
    source = REFERENCE.replace("    N, H = x.shape[0], W.shape[1]\n",
                               "    while True:\n        pass\n", 1)
    tests, results = grade_linear(tmp_path, source, ["test_linear_cuda_speed_on_gpu"])
    speed = tests["test_linear_cuda_speed_on_gpu"]
    assert speed["kind"] == "needs_gpu", speed
    assert "it did not finish (linear_forward_cuda did not finish within " \
        f"{DRY_RUN_TIMEOUT:g} s on the simulator)" in speed["output"], speed["output"]
    assert results["status"] == "needs_gpu"


def test_which_dry_run_outcomes_leave_the_points_pending():
    """Whatever the student's code did on the simulator, a GPU decides; not where there is
    nothing to time (an import that fails, NotImplementedError), nor the grader's faults."""
    from grader.harness.bench import ReferenceFailed, TooSlow
    from grader.harness.cuda import leaves_pending
    from grader.wire.bridge import (MachineFault, StudentError, WorkerCrashed, WorkerTimeout,
                                    WorkerUnavailable)

    pending = [AssertionError("out[0, 0] is 1; expected 2"), StudentError("IndexError", "36"),
               WorkerTimeout("no answer"), WorkerCrashed("segfault"), TooSlow("20 s")]
    failing = [StudentError("NotImplementedError", ""), WorkerUnavailable("no sandbox"),
               MachineFault("frozen"), ReferenceFailed("reference"),
               StudentError("SyntaxError", "'[' was never closed")]
    failing[-1].args = ("importing your files failed: SyntaxError: '[' was never closed",)
    assert [leaves_pending(e) for e in pending] == [True] * len(pending)
    assert [leaves_pending(e) for e in failing] == [False] * len(failing)


@pytest.mark.parametrize("gpu", ["simulate"])
def test_the_simulated_gpu_leaves_wrong_values_pending_too(tmp_path, monkeypatch, gpu):
    monkeypatch.setenv("GRADER_GPU", gpu)
    source = REFERENCE.replace("out[row, col] = acc + b[col]", "out[row, col] = acc")
    tests, results = grade_linear(tmp_path, source, ["test_linear_cuda_speed_on_gpu"])
    speed = tests["test_linear_cuda_speed_on_gpu"]
    assert speed["kind"] == "needs_gpu" and "GRADER_GPU=simulate" in speed["output"]
    assert "its result was wrong" in speed["output"] and results["status"] == "needs_gpu"


def test_the_simulated_gpu_runs_gpu_tests_but_scores_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_GPU", "simulate")
    tests, results = grade_linear(tmp_path, REFERENCE, ["test_linear_cuda_speed_on_gpu"])
    speed = tests["test_linear_cuda_speed_on_gpu"]
    assert speed["kind"] == "needs_gpu" and speed["score"] == 0
    assert speed["extra_data"]["student_seconds"] > 0  # it did run, on the simulator
    assert results["status"] == "needs_gpu"


def test_batch_keeps_pending_students_and_regrade_pending_needs_a_gpu(tmp_path, no_gpu):
    subs = tmp_path / "subs"
    submission(subs / "alice", REFERENCE)
    submission(subs / "bob")  # the skeleton: nothing to wait for
    out = tmp_path / "grades"
    first = batch.batch(subs, assignment="hw2_mlp", out=out, jobs=2, progress=False)
    assert first["statuses"] == {"needs_gpu": 1, "ok": 1}
    with open(out / "gradebook.csv", newline="", encoding="utf-8-sig") as f:
        assert {r["student"]: r["status"] for r in csv.DictReader(f)} == {
            "alice": "needs_gpu", "bob": "ok"}
    again = batch.batch(subs, assignment="hw2_mlp", out=out, jobs=2, progress=False)
    assert again["graded_now"] == 0  # pending students are graded as far as this machine can
    with pytest.raises(GraderError, match="--regrade-pending needs a GPU"):
        batch.batch(subs, assignment="hw2_mlp", out=out, regrade_pending=True, progress=False)
    from grader.results.gradebook import read_record
    assert read_record(out, "alice")["pending_gpu"]["points"] == 3.0


# -- configuration ----------------------------------------------------------------------------

@pytest.mark.parametrize("cuda, message", [
    ("{files: [other.py]}", "`cuda.files[0]` 'other.py' is not one of the student files"),
    ("{compute_capability: [7, 0]}", "at least [7, 5]"),
    ("{gpu_speed_ratio: -1}", "`cuda.gpu_speed_ratio` must be positive"),
    ("{tiles: 3}", "unknown key `cuda.tiles`"),
])
def test_cuda_config_errors_are_clear(tmp_path, cuda, message):
    folder = write_files(tmp_path / "demo", {
        "assignment.yaml": f"""
            id: demo
            title: Demo
            files: [k.py]
            cuda: {cuda}
            problems:
              - {{id: one, title: One, points: 1}}
        """, "k.py": ""})
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        from grader.course.config import load_assignment
        load_assignment(folder)


def test_cuda_files_run_in_a_worker_of_their_own():
    spec = find_assignment("hw2_mlp")
    assert spec.cuda.modules == ["linear_cuda"]
    assert "linear_cuda" not in spec.host_modules and "mlp" in spec.host_modules


# -- a GPU worker's sandbox (with a stand-in GPU: the plumbing, not the device) -------------

class StandInGpu:
    """What grader.gpu.device.Gpu tells the sandbox, pointing at harmless files."""

    def device_files(self):
        return ["/dev/full"]  # not among the jail's usual four

    def library_dirs(self):
        return []

    def environment(self):
        return {"GRADER_STAND_IN": "1"}


@pytest.mark.skipif(os.geteuid() != 0, reason="jail mode and cgroups need root")
def test_a_gpu_worker_gets_devices_no_address_limit_and_a_memory_cgroup(tmp_path, monkeypatch):
    from grader.sandbox.local import LocalSandbox, WorkerLimits
    from grader.wire.bridge import WorkerSession

    monkeypatch.setenv("GRADER_SANDBOX_MODE", "jail")
    work = write_files(tmp_path / "work", {"probe.py": """
        import os
        def look():
            limits = [l for l in open("/proc/self/limits") if l.startswith("Max address space")]
            return {"as": limits[0], "full": os.path.exists("/dev/full"),
                    "cgroup": open("/proc/self/cgroup").read(),
                    "env": os.environ.get("GRADER_STAND_IN"),
                    "sim": os.environ.get("NUMBA_ENABLE_CUDASIM")}
    """})
    for gpu in (StandInGpu(), None):
        sandbox = LocalSandbox(work, WorkerLimits(memory_mb=512), gpu=gpu)
        session = WorkerSession(sandbox, ["probe"])
        try:
            seen = session.call([None, "look"], (), {})
        finally:
            session.close()
            how = sandbox.cgroup.how if sandbox.cgroup else None
            sandbox.close()
        memory_group = [line for line in seen["cgroup"].splitlines()
                        if line.split(":")[1] in ("memory", "")]  # v1's memory line, or v2's
        if gpu is None:  # an ordinary worker: RLIMIT_AS, the usual devices, and its tree's
            # memory capped at twice that (sandbox/local.py TREE_MEMORY_FACTOR)
            assert "unlimited" not in seen["as"] and not seen["full"]
            assert how is None or "MB" not in how or "1024 MB" in how
            continue
        assert "unlimited" in seen["as"] and seen["full"] and seen["env"] == "1"
        assert seen["sim"] is None
        if how:
            assert any("nn-grader-" in line for line in memory_group) and "512 MB" in how


@pytest.mark.skipif(os.geteuid() != 0, reason="cgroups need root")
def test_the_memory_cgroup_stops_a_process_that_outgrows_it():
    from grader.sandbox import cgroups

    if not cgroups.available():
        pytest.skip(cgroups.describe())
    group = cgroups.WorkerCgroup(f"memory-test-{os.getpid()}", memory_mb=64)
    grow = [sys.executable, "-c", "x = bytearray(300 * 2**20); x[::4096] = b'x' * len(x[::4096])"]
    try:
        inside = subprocess.run(grow, preexec_fn=group.enter, capture_output=True)
    finally:
        group.close()
    assert inside.returncode != 0  # killed (or MemoryError) at 64 MB
    assert subprocess.run(grow, capture_output=True).returncode == 0  # fine outside it


def test_the_docker_backend_passes_the_gpu_in_only_when_asked(tmp_path):
    pytest.importorskip("docker")
    from grader.sandbox import docker as backend

    spec = find_assignment("hw2_mlp")
    common = dict(submission=tmp_path, out=tmp_path, image="x", cpus=1, memory_mb=512,
                  tmp_mb=64, job="j")
    with_gpu = backend.container_options(spec, gpu=True, **common)
    (request,) = with_gpu["device_requests"]
    assert request["Count"] == -1 and request["Capabilities"] == [["gpu"]]
    assert "device_requests" not in backend.container_options(spec, **common)
    assert with_gpu["pids_limit"] > 1024  # the simulator's threads count as pids


def test_a_missing_cuda_compiler_is_the_graders_problem(monkeypatch):
    """Compile errors count against the student only where a known-good kernel compiles."""
    from grader.gpu import compile_check

    def no_nvvm(*args, **kwargs):
        raise RuntimeError("libNVVM cannot be found")

    monkeypatch.setattr(compile_check, "_compile", no_nvvm)
    monkeypatch.setattr(compile_check, "_toolchain", {})
    report = compile_linear(REFERENCE)
    assert report["stage"] == "toolchain" and "nn-grader[cuda-compile]" in report["message"]
