"""``grader new <id>``: a new assignment that releases and validates as it is.

It writes ``<solutions>/<id>/`` with every part an assignment has (see docs/authoring.md): an
``assignment.yaml``, a reference file with solution markers (a ReLU layer, to be replaced by
the real thing), a public and a hidden test, English and Chinese handout templates, and one
mutant the hidden test catches. ``grader release <id>`` and ``grader validate <id>`` pass on
it straight away, so an author starts from something green and keeps it green.
"""
from __future__ import annotations

import os
from pathlib import Path

from grader.course.config import ID_PATTERN, solutions_dir
from grader.errors import ConfigError

ASSIGNMENT_YAML = """\
# The assignment's configuration: see docs/authoring.md ("assignment.yaml").
id: __ID__
title: A first layer, ReLU forward and backward   # rename: students see it
title_zh: 第一个层：ReLU 的前向与反向传播
files: [layer.py]                  # the student's files, each with a reference of the same name
seed: 1                            # base of the per-test `rng` seeds
limits:
  call_timeout: 5                  # seconds for one call into student code
  total_timeout: 120               # seconds for the whole submission
problems:
  # points = the sum of the `points` markers of the problem's tests, public + hidden
  - id: relu
    title: relu_forward and relu_backward
    points: 4                      # public 1 test (1) + hidden 2 tests (2 + 1)
"""

REFERENCE = '''\
"""__ID__: a ReLU layer, forward and backward.

The reference solution. Between the solution markers is what students write; `grader release`
replaces it with `# YOUR CODE HERE` and `raise NotImplementedError()` in their skeleton.
"""
import numpy as np


def relu_forward(x):
    """Elementwise max(0, x).

    x: a float64 array of any shape. Returns ``out``, of the shape of ``x``.
    """
    ### BEGIN SOLUTION
    return np.maximum(x, 0.0)
    ### END SOLUTION


def relu_backward(d_out, x):
    """The gradient of ``relu_forward`` at ``x``: ``d_out`` where ``x > 0``, else 0.

    d_out, x: float64 arrays of one shape. Returns ``dx``, of that shape.
    """
    ### BEGIN SOLUTION
    return d_out * (x > 0)
    ### END SOLUTION
'''

PUBLIC_TEST = '''\
"""Public tests for __ID__: fixed inputs, hard-coded expected values (no `reference`).

Students run them with `grader check`.
"""
import numpy as np
import pytest

from grader.testing import assert_close

pytestmark = pytest.mark.problem("relu")


@pytest.mark.points(1)
def test_relu_forward_fixed_values(student):
    x = np.array([[-1.5, 0.0, 2.5], [3.0, -0.25, 1.0]])
    assert_close(student.relu_forward(x), np.array([[0.0, 0.0, 2.5], [3.0, 0.0, 1.0]]),
                 name="relu_forward(x)")
'''

HIDDEN_TEST = '''\
"""Hidden tests for __ID__: random inputs (the `rng` fixture), the reference, gradient checks.

The first line of each docstring is all a student sees when the test fails: a hint.
"""
import numpy as np
import pytest

from grader.testing import assert_close, check_gradient

pytestmark = pytest.mark.problem("relu")


def _away_from_the_kink(rng, shape):
    x = rng.standard_normal(shape)
    return x + 0.1 * np.sign(x)  # central differences need |x| > eps at a kink


@pytest.mark.points(2)
def test_relu_forward_matches_reference(student, reference, rng):
    """relu_forward must keep positive entries and zero the others, for any shape."""
    for shape in [(5,), (3, 4), (2, 3, 4)]:
        x = rng.standard_normal(shape)
        assert_close(student.relu_forward(x), reference.relu_forward(x), name=f"out {shape}")


@pytest.mark.points(1)
def test_relu_backward_matches_numerical(student, reference, rng):
    """relu_backward must pass d_out through where x > 0, and only there."""
    x = _away_from_the_kink(rng, (4, 5))
    d_out = rng.standard_normal(x.shape)
    check_gradient(reference.relu_forward, x, student.relu_backward(d_out, x), d_out=d_out,
                   rng=rng, name="dx")
'''

HANDOUT_EN = """\
# {{title}} (`{{id}}`)

Your file: {{files}}. Write code only where the skeleton says `# YOUR CODE HERE` (and delete
the `raise NotImplementedError()` below it). Keep the function names and arguments as they are:
the grader calls them by name.

{{points_table}}

## `relu_forward(x)` and `relu_backward(d_out, x)` (`relu`)

`relu_forward` returns `max(0, x)` elementwise. `relu_backward` returns the gradient of the
loss with respect to `x`: `d_out` where `x > 0`, and 0 elsewhere.

Check your work with `grader check`, then make your submission with `grader zip`.
"""

HANDOUT_ZH = """\
# {{title_zh}}（`{{id}}`）

你的文件：{{files}}。只在骨架中写有 `# YOUR CODE HERE` 的地方编写代码（并删去其下的
`raise NotImplementedError()`）。请保持函数名与参数不变：评分程序按名字调用它们。

{{points_table}}

## `relu_forward(x)` 与 `relu_backward(d_out, x)`（`relu`）

`relu_forward` 逐元素返回 `max(0, x)`。`relu_backward` 返回损失对 `x` 的梯度：`x > 0`
处为 `d_out`，其余为 0。

用 `grader check` 检查，再用 `grader zip` 生成提交文件。
"""

MUTANT = """\
# A known-wrong solution the hidden suite must catch (`grader validate` checks it).
description: ReLU gradient taken on the wrong side of zero
file: layer.py
replace:                 # each `old` must occur exactly once in the reference file
  - old: "return d_out * (x > 0)"
    new: "return d_out * (x < 0)"
caught_by:               # test function names (without [params]) that must fail
  - test_relu_backward_matches_numerical
"""

FILES = {
    "assignment.yaml": ASSIGNMENT_YAML,
    "layer.py": REFERENCE,
    "tests/public/test_layer_public.py": PUBLIC_TEST,
    "tests/hidden/test_layer_hidden.py": HIDDEN_TEST,
    "handout/README.en.md": HANDOUT_EN,
    "handout/README.zh.md": HANDOUT_ZH,
    "mutants/relu_grad_wrong_side.yaml": MUTANT,
}


def scaffold(assignment_id: str, *, solutions=None) -> Path:
    """Create ``<solutions>/<assignment_id>/`` (default: $GRADER_SOLUTIONS, else the
    repository's ``solutions/``); return it. Never overwrites anything."""
    if not isinstance(assignment_id, str) or not ID_PATTERN.match(assignment_id):
        raise ConfigError(f"{assignment_id!r} is not an assignment id: use only a-z, 0-9 and _")
    folder = Path(solutions) if solutions else solutions_dir()
    target = folder / assignment_id
    if os.path.lexists(target):
        raise ConfigError(f"{target} already exists; choose another id or remove it")
    for rel, template in FILES.items():
        text = template.replace("__ID__", assignment_id)
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
