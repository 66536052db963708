"""The harness's fixtures live on plugin objects (``GradingPlugin``, ``CudaSupport``), where
pytest 9 deprecates fixtures of a wider scope than a function defined as instance methods
(PytestRemovedIn10Warning; pytest 10 removes them). They are function-scoped and return objects
made once per submission."""
from grader.harness.cuda import CudaSupport
from grader.harness.plugin import GradingPlugin


def _fixture_scopes(cls) -> dict:
    scopes = {}
    for name, value in vars(cls).items():
        marker = getattr(value, "_fixture_function_marker", None)  # pytest's fixture definition
        if marker is not None:
            scopes[name] = marker.scope
    return scopes


def test_the_harness_fixtures_are_function_scoped():
    scopes = {**_fixture_scopes(GradingPlugin), **_fixture_scopes(CudaSupport)}
    assert {"student", "reference", "rng", "bench", "student_cuda", "cuda_build",
            "gpu_bench"} <= set(scopes), scopes
    assert {name for name, scope in scopes.items() if scope not in ("function", None)} == set()
