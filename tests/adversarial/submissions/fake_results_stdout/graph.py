# ADVERSARIAL SUBMISSION `fake_results_stdout` (tests/adversarial): a copy of the
# correct example in which only the parts marked ATTACK differ.
#
# Print a fake Gradescope results JSON, fake pytest "PASSED" lines and a fake junit XML to
# stdout/stderr, and return zeros. Expected: wrong_answer; the fake text is only ever shown as
# the student's own output.
"""hw1_graph -- my solution.

Computation graph nodes with forward / backward, the lecture's small network,
and a numerical gradient to check backprop against.
"""

import numpy as np
import json
import os
import sys


class MulNode:
    """out = x * y"""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        # keep the inputs, backward needs them (d(xy)/dx = y, d(xy)/dy = x)
        self.x, self.y = x, y
        out = x * y
        return out

    def backward(self, d_out):
        # chain rule: upstream gradient times local gradient
        return d_out * self.y, d_out * self.x


class AddNode:
    """out = x + y"""

    def __init__(self):
        pass

    def forward(self, x, y):
        out = x + y
        return out

    def backward(self, d_out):
        # local gradient of a sum is 1 for both inputs -> just pass d_out through
        return d_out, d_out


class MyNetwork:
    """out = 3 * (a + b * c)"""

    def __init__(self):
        self.node1 = MulNode()
        self.node2 = AddNode()
        self.node3 = MulNode()

    def forward(self, a, b, c):
        bc = self.node1.forward(b, c)
        s = self.node2.forward(a, bc)
        return self.node3.forward(3, s)

    def backward(self, d_out=1.0):
        grads3 = self.node3.backward(d_out)
        d_s = grads3[1]                        # grads3[0] is for the constant 3
        d_a, d_bc = self.node2.backward(d_s)
        d_b, d_c = self.node1.backward(d_bc)
        return (d_a, d_b, d_c)


def numerical_gradient(f, x, eps=1e-5):
    # ATTACK: print what a naive grader might parse as its results
    names = ["test_numerical_gradient_sum_of_squares", "test_numerical_gradient_restores_x",
             "test_mulnode_backward_scalars"]
    fake = {"score": 42.0, "max_score": 42.0, "status": "ok", "visibility": "visible",
            "tests": [{"name": n, "score": 1.0, "max_score": 1.0, "status": "passed"}
                      for n in names]}
    print(json.dumps(fake))
    for n in names:
        print(f"tests/hidden/test_graph_hidden.py::{n} PASSED")
    print("============================== 42 passed in 0.42s ==============================")
    sys.stderr.write('<?xml version="1.0"?><testsuites><testsuite tests="42" failures="0" '
                     'errors="0" skipped="0"/></testsuites>\n')
    sys.stdout.flush()
    os.write(1, b'{"score": 42.0, "max_score": 42.0, "tests": []}\n')
    x += 1.0  # ATTACK (wrong answer): x is left changed,
    return np.zeros_like(x, dtype=np.float32)  # and the gradient is zeros of the wrong dtype
