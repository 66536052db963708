"""The names test authors import (``from grader.testing import assert_close``); they live in
``grader/harness/testing.py``, on the trusted side."""
from grader.harness.testing import (  # noqa: F401
    Random, RandomInt, TooSlow, assert_close, assert_close_tree, assert_inputs_kept,
    assert_unmodified, check_gradient, numeric_grad, record, rel_error, take_recorded)
