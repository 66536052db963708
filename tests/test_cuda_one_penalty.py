"""One mistake, one penalty in the CUDA problems (issue 20, item 4).

Each kernel in ``tests/cuda_one_bug/`` is the reference with one realistic bug (a missing
bounds check, a missing second barrier, a transposed index, a loop that covers only whole
tiles, blocks rounded down; or, as a control, only an in-place change of ``x``). Graded with
the real grader (the local sandbox, numba-cuda's simulator, the compile check) and no GPU, a
value bug must cost only the tests that check values: the in-place test judges only whether
the inputs changed, the compile and tiling tests only the compiled code, and the GPU speed test
is pending (never scored) whatever its dry run computed, and says that no GPU ran.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from grader import api
from grader.gpu.device import detect
from tests.conftest import REPO

pytest.importorskip("numba_cuda", reason="the CUDA tests need numba-cuda (pip install "
                    "'nn-grader[cuda]')")

DATA = Path(__file__).parent / "cuda_one_bug"

# Per assignment: its CUDA file, the tests that check values, and the others (which a value
# bug must not fail); the GPU speed test is pending without a GPU.
SETS = {
    "hw2_mlp": dict(
        file="linear_cuda.py", others=("perceptron.py", "mlp.py", "sgd.py"),
        values={"test_linear_cuda_small", "test_linear_cuda_several_tiles",
                "test_linear_cuda_matches_numpy"},
        in_place="test_linear_cuda_does_not_modify_inputs",
        code={"test_linear_kernel_compiles_for_gpu", "test_linear_kernel_is_tiled"},
        speed="test_linear_cuda_speed_on_gpu"),
    "hw3_conv": dict(
        file="conv_cuda.py", others=("conv.py",),
        values={"test_conv_cuda_lecture_example", "test_conv_cuda_stride_2_padding_1",
                "test_conv_cuda_matches_reference", "test_conv_cuda_defaults"},
        in_place="test_conv_cuda_does_not_modify_inputs",
        code={"test_conv_kernel_compiles_for_gpu"},
        speed="test_conv_cuda_speed_on_gpu"),
}
CASES = [(assignment, path.stem) for assignment in SETS
         for path in sorted((DATA / assignment).glob("*.py"))]


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setenv("GRADER_GPU", "0")
    detect.cache_clear()
    yield
    detect.cache_clear()


def grade_one_bug(tmp_path, assignment, bug):
    spec = SETS[assignment]
    sub = tmp_path / bug
    sub.mkdir()
    for name in spec["others"]:  # the released skeletons: their tests are not run here
        (sub / name).write_text((REPO / "assignments" / assignment / name).read_text())
    (sub / spec["file"]).write_text((DATA / assignment / f"{bug}.py").read_text())
    only = sorted(spec["values"] | spec["code"] | {spec["in_place"], spec["speed"]})
    return api.grade(sub, assignment=assignment, only=only)


def test_every_bug_is_described_on_its_first_line():
    assert len(CASES) >= 10
    for assignment, bug in CASES:
        first = (DATA / assignment / f"{bug}.py").read_text().splitlines()[0]
        assert first.startswith("# ONE BUG"), (assignment, bug)


@pytest.mark.parametrize("assignment, bug", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_one_bug_costs_only_the_tests_that_check_it(tmp_path, no_gpu, assignment, bug):
    spec = SETS[assignment]
    results = grade_one_bug(tmp_path, assignment, bug)
    tests = results["tests"]
    base = {t["name"].split("[")[0] for t in tests}
    assert base == spec["values"] | spec["code"] | {spec["in_place"], spec["speed"]}
    failed = {t["name"] for t in tests if t["status"] != "passed"}
    # The GPU speed test: pending, never scored, and honest that no GPU ran.
    speed = [t for t in tests if t["name"] == spec["speed"]]
    assert len(speed) == 1 and speed[0]["kind"] == "needs_gpu", speed
    assert speed[0]["score"] == 0 and "no GPU ran" in speed[0]["output"], speed[0]["output"]
    assert results["pending_gpu"]["tests"] == [spec["speed"]]
    assert results["status"] == "needs_gpu"
    wrong = {t["name"] for t in tests if t["name"].split("[")[0] in spec["values"]
             and t["status"] != "passed"}
    if bug == "modifies_x":  # the control: values right, only the in-place test fails
        assert wrong == set()
        assert failed == {spec["in_place"], spec["speed"]}, failed
        in_place = next(t for t in tests if t["name"] == spec["in_place"])
        assert in_place["kind"] == "wrong_answer"
        return
    assert wrong, f"{bug}: no value test notices the bug (the test data is wrong)"
    # Only value tests fail; every compile, tiling and in-place test passes.
    assert failed - {spec["speed"]} == wrong, sorted(failed - wrong)
    lost = sum(t["max_score"] - t["score"] for t in tests if t["name"] != spec["speed"])
    assert lost == sum(t["max_score"] for t in tests if t["name"] in wrong)
