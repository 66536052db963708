"""The no-isolation floor: the same tests with the student's module imported in-process.

This is how a naive grader runs (and why it is unsafe); the benchmark uses it only to measure
what the sandbox costs. Loaded with ``-p floor_plugin``; FLOOR_SUBMISSION and FLOOR_REFERENCE
name the folders, FLOOR_MODULES the module names.
"""
import importlib.util
import os
import sys
import types
import zlib
from pathlib import Path

import numpy as np
import pytest


def _import_all(folder, prefix):
    ns = types.SimpleNamespace()
    for name in os.environ["FLOOR_MODULES"].split(","):
        spec = importlib.util.spec_from_file_location(prefix + name, Path(folder) / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        setattr(ns, name, module)
        for attr, value in vars(module).items():
            if not attr.startswith("_"):
                setattr(ns, attr, value)
    return ns


class _Function:
    """A function or method with the bridge proxy's ``inspect`` (arguments after the call)."""

    def __init__(self, fn):
        self._fn = fn

    def __call__(self, *args, **kwargs):
        result = self._fn(*args, **kwargs)
        return _Object(result) if _is_student_object(result) else result

    def inspect(self, *args, **kwargs):
        from grader.wire.bridge import Call
        return Call(self(*args, **kwargs), args, kwargs)


class _Object:
    """An instance of a student's class, seen through the same surface as a bridge handle."""

    def __init__(self, obj):
        object.__setattr__(self, "_obj", obj)

    def __getattr__(self, name):
        value = getattr(self._obj, name)
        return _Function(value) if callable(value) else value

    def __setattr__(self, name, value):
        setattr(self._obj, name, value)


def _is_student_object(value):
    return type(value).__module__.startswith("student_")


class _Student:
    def __init__(self, ns):
        self._ns = ns

    def __getattr__(self, name):
        value = getattr(self._ns, name)
        return _Function(value) if callable(value) else value


def pytest_configure(config):
    for marker in ("problem(id)", "points(n)", "visibility(v)", "timeout(s)"):
        config.addinivalue_line("markers", marker)


@pytest.fixture(scope="session")
def student():
    return _Student(_import_all(os.environ["FLOOR_SUBMISSION"], "student_"))


@pytest.fixture(scope="session")
def reference():
    return _import_all(os.environ["FLOOR_REFERENCE"], "reference_")


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
