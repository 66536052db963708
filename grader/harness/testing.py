"""Assertion helpers for test authors (trusted, harness side).

Every helper raises ``AssertionError`` with a message a student can act on: what was compared,
the shapes, the worst element, the tolerance. See docs/authoring.md.
"""
from __future__ import annotations

import copy

import numpy as np

from grader.wire.bridge import Call, StudentError
from grader.harness.bench import Random, RandomInt, TooSlow  # noqa: F401  (for test authors)

_recorded: dict = {}


def record(**values) -> None:
    """Attach measured values (gradient errors, speed ratios) to the current test's result."""
    _recorded.update(values)


def take_recorded() -> dict:
    values = dict(_recorded)
    _recorded.clear()
    return values


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:200]


def assert_close(actual, expected, *, name: str = "result", rtol: float = 1e-7,
                 atol: float = 1e-10) -> None:
    """Compare strictly: same shape, numeric dtype, NaN only where expected, within tolerance."""
    exp = np.asarray(expected)
    scalar_expected = exp.ndim == 0 and not isinstance(expected, np.ndarray)
    if isinstance(actual, (bool, np.bool_)) and not isinstance(expected, (bool, np.bool_)):
        raise AssertionError(f"{name} is a boolean ({actual!r}); expected a number")
    if scalar_expected:
        if not (isinstance(actual, (int, float, np.integer, np.floating))
                or isinstance(actual, np.ndarray) and actual.ndim == 0):
            raise AssertionError(f"{name} is {_describe(actual)}; expected a number")
    elif not isinstance(actual, np.ndarray):
        raise AssertionError(f"{name} is {_describe(actual)}; expected an ndarray of shape "
                             f"{exp.shape}")
    act = np.asarray(actual)
    if act.dtype.kind not in "biuf":
        raise AssertionError(f"{name} has dtype {act.dtype}; expected a real number type")
    if act.shape != exp.shape:
        raise AssertionError(f"{name} has shape {act.shape}; expected {exp.shape}")
    act64, exp64 = act.astype(np.float64), exp.astype(np.float64)
    nan_a, nan_e = np.isnan(act64), np.isnan(exp64)
    if (nan_a & ~nan_e).any():
        idx = tuple(int(i) for i in np.argwhere(nan_a & ~nan_e)[0])
        raise AssertionError(f"{name} contains NaN at index {idx}; expected {exp64[idx]!r}")
    inf_mismatch = (np.isinf(act64) | np.isinf(exp64)) & (act64 != exp64) & ~nan_e
    if inf_mismatch.any():
        idx = tuple(int(i) for i in np.argwhere(inf_mismatch)[0])
        raise AssertionError(f"{name}[{idx}] is {act64[idx]!r}; expected {exp64[idx]!r}")
    finite = np.isfinite(exp64) & np.isfinite(act64)
    err = np.where(finite, np.abs(act64 - exp64) - (atol + rtol * np.abs(exp64)), -1.0)
    if (err > 0).any():
        idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
        where = f"[{', '.join(map(str, idx))}]" if idx else ""
        bad = int((err > 0).sum())
        raise AssertionError(
            f"{name}{where} is {act64[idx]:.6g}; expected {exp64[idx]:.6g} "
            f"({bad} of {err.size} element{'s' if err.size != 1 else ''} off; "
            f"rtol={rtol:g}, atol={atol:g})")


def assert_close_tree(actual, expected, *, name: str = "result", **tolerances) -> None:
    """``assert_close`` through nested lists, tuples and dicts (e.g. a list of (dW, db))."""
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            raise AssertionError(f"{name} is {_describe(actual)}; expected a "
                                 f"{type(expected).__name__} of {len(expected)} items")
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close_tree(a, e, name=f"{name}[{i}]", **tolerances)
    elif isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            keys = sorted(map(str, actual)) if isinstance(actual, dict) else None
            raise AssertionError(f"{name} has keys {keys}; expected "
                                 f"{sorted(map(str, expected))}")
        for k in expected:
            assert_close_tree(actual[k], expected[k], name=f"{name}[{k!r}]", **tolerances)
    else:
        assert_close(actual, expected, name=name, **tolerances)


def _unchanged(after, before) -> bool:
    if isinstance(before, np.ndarray):
        return (isinstance(after, np.ndarray) and after.shape == before.shape
                and np.array_equal(after, before, equal_nan=True))
    if isinstance(before, (list, tuple)):
        return (isinstance(after, (list, tuple)) and len(after) == len(before)
                and all(_unchanged(a, b) for a, b in zip(after, before)))
    if isinstance(before, dict):
        return (isinstance(after, dict) and set(after) == set(before)
                and all(_unchanged(after[k], before[k]) for k in before))
    return True  # scalars are passed by value; nothing to modify


def assert_unmodified(call: Call, *originals, names: tuple[str, ...] = ()) -> None:
    """The worker's copies of the positional arguments, after the call, equal ``originals``
    (arrays, also inside lists, tuples and dicts)."""
    for i, (after, before) in enumerate(zip(call.args, originals)):
        if not _unchanged(after, before):
            label = names[i] if i < len(names) else f"argument {i + 1}"
            raise AssertionError(f"{label} was modified by the call; inputs must keep "
                                 "their values (work on a copy)")


def assert_inputs_kept(function, *argument_sets, names: tuple[str, ...] = ()) -> Call:
    """An in-place test that judges in-place changes only: ``function.inspect`` on a copy of
    the first argument tuple whose call runs, then ``assert_unmodified`` against the originals;
    the result is not judged (value tests do that). A call that raises in the student's code
    (for instance an out-of-bounds read, which numba-cuda's simulator turns into an
    IndexError) says nothing about the inputs: the next tuple is tried, so make the last one
    the gentlest (for a kernel: a shape where no tile or block sticks out). Where no call runs,
    the last one's error fails the test. Returns the ``Call``."""
    if not argument_sets:
        raise ValueError("assert_inputs_kept needs at least one tuple of arguments")
    for i, args in enumerate(argument_sets):
        try:
            call = function.inspect(*copy.deepcopy(tuple(args)))
        except StudentError as e:
            if e.kind != "error" or i == len(argument_sets) - 1:
                raise
            continue
        assert_unmodified(call, *args, names=names)
        return call


def rel_error(a, b) -> float:
    """max|a-b| / max(1e-8, |a|+|b|), elementwise, as in DESIGN.md."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numeric_grad(f, x, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar function ``f`` at ``x`` (float64, any shape)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        f_plus = float(f(x))
        x[idx] = old - eps
        f_minus = float(f(x))
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def check_gradient(f, x, analytic, *, d_out, rng, name: str = "dx", tol: float = 1e-6,
                   eps: float = 1e-6, coords: int = 20) -> float:
    """Check ``analytic`` = dL/dx for L(x) = sum(f(x) * d_out) by central differences.

    ``f`` is the trusted reference forward. Checks up to ``coords`` random coordinates plus one
    directional derivative along a random unit direction (covers every coordinate at once).
    Returns the worst relative error and records it on the test.
    """
    x = np.array(x, dtype=np.float64)
    d_out = np.asarray(d_out, dtype=np.float64)
    if not isinstance(analytic, np.ndarray):
        if x.ndim == 0 and isinstance(analytic, (int, float, np.floating, np.integer)):
            analytic = np.asarray(analytic, dtype=np.float64)
        else:
            raise AssertionError(f"{name} is {_describe(analytic)}; expected an ndarray of "
                                 f"shape {x.shape}")
    if analytic.shape != x.shape:
        raise AssertionError(f"{name} has shape {analytic.shape}; expected {x.shape} "
                             "(the shape of the input)")

    def loss(v):
        return float(np.sum(np.asarray(f(v), dtype=np.float64) * d_out))

    flat = list(np.ndindex(x.shape))
    picks = [flat[i] for i in rng.permutation(len(flat))[:coords]] if flat else []
    worst, worst_at = 0.0, None
    for idx in picks:
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        num = (loss(xp) - loss(xm)) / (2 * eps)
        err = rel_error(analytic[idx], num)
        if err > worst:
            worst, worst_at = err, (idx, float(analytic[idx]), num)
    direction = rng.standard_normal(x.shape)
    direction /= max(np.linalg.norm(direction), 1e-12)
    num_dir = (loss(x + eps * direction) - loss(x - eps * direction)) / (2 * eps)
    ana_dir = float(np.sum(analytic * direction))
    dir_err = rel_error(ana_dir, num_dir)
    record(**{f"gradient_error_{name}": max(worst, dir_err), f"gradient_tolerance_{name}": tol})
    if worst > tol:
        idx, a, n = worst_at
        raise AssertionError(f"{name} disagrees with the numerical gradient: relative error "
                             f"{worst:.2e} > {tol:.0e} at index {list(idx)} "
                             f"(yours {a:.6g}, numerical {n:.6g})")
    if dir_err > tol:
        raise AssertionError(f"{name} disagrees with the numerical gradient along a random "
                             f"direction: relative error {dir_err:.2e} > {tol:.0e} "
                             f"(yours {ana_dir:.6g}, numerical {num_dir:.6g})")
    return max(worst, dir_err)
