"""A submission that reports what it can reach from inside the grading container.

MulNode.forward raises with the findings as JSON, so a public test's output carries them back.
"""
import json
import os
import socket


def _try(action):
    try:
        result = action()
        return "ok" if result is None else result
    except Exception as e:  # the denial is the finding
        return type(e).__name__


def _probe():
    def cap_eff():
        with open("/proc/self/status") as f:
            return next(line.split()[1] for line in f if line.startswith("CapEff"))

    return {
        "uid": os.getuid(),
        "cap_eff": cap_eff(),
        "solutions": _try(lambda: os.listdir("/opt/grader/solutions")),
        "out": _try(lambda: os.listdir("/out")),
        "harness_environ": _try(lambda: open("/proc/1/environ").read()[:20]),
        "network": _try(lambda: socket.create_connection(("1.1.1.1", 53), timeout=1).close()),
        "dns": _try(lambda: socket.getaddrinfo("pypi.org", 443)),
        "write_root": _try(lambda: open("/probe", "w").close()),
        "write_grader": _try(lambda: open("/opt/grader/grader/probe.py", "w").close()),
        "write_tmp": _try(lambda: open("/tmp/probe-ok", "w").close()),
        "docker_socket": _try(lambda: os.stat("/var/run/docker.sock") and "present"),
        # The worker is forked from a template (grader.sandbox.template), whose keeper is its
        # parent: root, and neither to be signalled nor read.
        "cmdline": _try(lambda: open("/proc/self/cmdline").read().replace("\0", " ")),
        "signal_parent": _try(lambda: os.kill(os.getppid(), 0)),
        "parent_memory": _try(lambda: open(f"/proc/{os.getppid()}/mem", "rb").read(1)),
        "parent_environ": _try(lambda: open(f"/proc/{os.getppid()}/environ").read()[:20]),
        "own_environ": _try(lambda: open("/proc/self/environ").read()),
        "environ": dict(os.environ),
    }


class MulNode:
    def forward(self, x, y):
        raise RuntimeError("PROBE " + json.dumps(_probe()))

    def backward(self, d_out):
        raise RuntimeError("PROBE")


class AddNode(MulNode):
    pass


class MyNetwork(MulNode):
    pass


def numerical_gradient(f, x, eps=1e-5):
    raise RuntimeError("PROBE")
