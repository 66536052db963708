"""The untrusted side: runs inside the sandbox, imports the student's files and serves calls.

Everything here may be subverted by the student's code (it shares the process), so nothing here
decides a score. The harness only ever sees what this process writes to its reply pipe, and
treats it as hostile input (see ``protocol.decode_body``).

Requests (one frame each) are dicts with an ``op``:
  load      {"dir", "modules"}               import the student's files by path
  call      {"target", "args", "kwargs", "return_args"}   call a function, class or method
  getattr   {"target", "name"} / setattr {"target", "name", "value"}
  release   {"ids"}                          forget handles
Replies: {"ok": value} (plus "args"/"kwargs" when asked), {"error": {...}}, or, while student
code runs, {"callback": id, "args", "kwargs"} requests that the harness answers with {"ok"} or
{"error"}.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import traceback
import types

import numpy as np

from grader.wire import protocol

_handles: dict[int, object] = {}
_next_id = [1]
_student_dir = ["/nonexistent"]
_student_modules: dict[str, types.ModuleType] = {}


class CallbackError(Exception):
    """Raised inside student code when a grader-provided function rejected its arguments."""


class _Callback:
    """A harness-side function handed to student code; calling it asks the harness."""

    def __init__(self, rfd, wfd, cid, name):
        self._io, self._id, self.__name__ = (rfd, wfd), cid, name

    def __call__(self, *args, **kwargs):
        rfd, wfd = self._io
        protocol.write_frame(wfd, protocol.encode(
            {"callback": self._id, "args": list(args), "kwargs": kwargs}, on_object=_as_handle))
        _flush_output()
        reply = protocol.read_frame_blocking(rfd)
        if "error" in reply:
            raise CallbackError(reply["error"])
        return reply["ok"]

    def __repr__(self):
        return f"<function {self.__name__} provided by the grader>"


def _is_student_object(obj) -> bool:
    module = getattr(type(obj), "__module__", None)
    return module in _student_modules


def _as_handle(obj):
    """Objects of the student's own classes and functions, and iterators, stay here."""
    if isinstance(obj, _Callback):  # a grader function echoed back (e.g. by ``inspect``)
        return protocol.Callback(obj._id, obj.__name__)
    keep = (_is_student_object(obj) or hasattr(obj, "__next__")
            or callable(obj) and getattr(obj, "__module__", None) in _student_modules)
    if keep:
        hid = _next_id[0]
        _next_id[0] += 1
        _handles[hid] = obj
        cls = type(obj)
        methods = sorted(n for n in dir(cls) if (not n.startswith("__") or n in (
            "__call__", "__next__", "__iter__", "__len__")) and callable(getattr(cls, n, None)))
        return protocol.Handle(hid, cls.__qualname__, tuple(methods))
    return None


def _resolve(target):
    """target is a handle id, or [module, name] (module may be None: search every file)."""
    if isinstance(target, int):
        return _handles[target]
    module, name = target
    if isinstance(module, int):
        return getattr(_handles[module], name)
    if module is not None:
        return getattr(_student_modules[module], name)
    for mod in _student_modules.values():
        if hasattr(mod, name):
            return getattr(mod, name)
    files = ", ".join(f"{m}.py" for m in _student_modules) or "your files"
    raise AttributeError(f"{name} is not defined in {files}")


def _student_traceback(exc: BaseException) -> str:
    """Only the frames of the student's own files; never the worker's or the grader's."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.startswith(_student_dir[0] + os.sep)]
    for f in frames:
        f.filename = os.path.relpath(f.filename, _student_dir[0])
    return "".join(traceback.format_list(frames))


def _error_reply(exc: BaseException) -> dict:
    if isinstance(exc, SyntaxError) and exc.filename:
        where = os.path.relpath(exc.filename, _student_dir[0]) if exc.filename.startswith(
            _student_dir[0]) else os.path.basename(exc.filename)
        message = f"{exc.msg} ({where}, line {exc.lineno})"
    else:
        try:
            message = str(exc)
        except BaseException:  # a student exception whose __str__ raises
            message = "<unprintable message>"
    return {"error": {"type": type(exc).__name__, "message": message[:2000],
                      "traceback": _student_traceback(exc)[-4000:],
                      "memory": isinstance(exc, MemoryError)}}


def _load(request):
    directory = os.path.realpath(request["dir"])
    _student_dir[0] = directory
    sys.path.insert(0, directory)
    for name in request["modules"]:
        path = os.path.join(directory, name + ".py")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{name}.py is missing from the submission")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        _student_modules[name] = module
        spec.loader.exec_module(module)
    return None


def _serve_one(rfd, wfd, request):
    op = request.get("op")
    if op == "load":
        return {"ok": _load(request)}
    if op == "call":
        fn = _resolve(request["target"])
        args, kwargs = request["args"], request["kwargs"]
        result = fn(*args, **kwargs)
        reply = {"ok": result}
        if request.get("return_args"):
            reply["args"], reply["kwargs"] = args, kwargs
        return reply
    if op == "getattr":
        return {"ok": getattr(_resolve(request["target"]), request["name"])}
    if op == "setattr":
        setattr(_resolve(request["target"]), request["name"], request["value"])
        return {"ok": None}
    if op == "release":
        for hid in request["ids"]:
            _handles.pop(hid, None)
        return {"ok": None}
    if op == "prepare":
        _prepared[request["slot"]] = _prepare(request)
        return {"ok": None}
    if op == "run":
        # Timed by the harness from outside: the call, and a tiny reply. The result stays here
        # (sending it would time the transfer); the harness samples it right after.
        target, args, kwargs = _prepared.pop(request["slot"])
        result = target(*args, **kwargs)
        index = request.get("index")
        _results[request["slot"]] = result if index is None else result[index]
        return {"ok": None}
    if op == "sample":
        return {"ok": _sample(_results[request["slot"]], request["positions"])}
    if op == "fetch":
        return {"ok": _results.pop(request["slot"])}
    if op == "release_result":
        _results.pop(request["slot"], None)
        return {"ok": None}
    raise ValueError(f"unknown op {op!r}")


# -- timing support (see grader/harness/bench.py) ------------------------------------------------
_prepared: dict[int, tuple] = {}
_results: dict[int, object] = {}


def _materialize(value, rng, steps):
    """Replace the bench placeholders: fresh random arrays and outputs of setup calls."""
    if isinstance(value, dict):
        if "$$random" in value:
            spec = value["$$random"]
            shape = tuple(spec["shape"])
            if spec.get("high_int") is not None:
                return rng.integers(0, spec["high_int"], size=shape)
            if spec.get("low") is not None:
                out = rng.uniform(spec["low"], spec["high"], size=shape)
            else:
                out = rng.standard_normal(shape) * spec.get("scale", 1.0)
            return out.astype(spec.get("dtype", "float64"))
        if "$$step" in value:
            step, index = value["$$step"]
            result = steps[step]
            return result if index is None else result[index]
        return {k: _materialize(v, rng, steps) for k, v in value.items()}
    if isinstance(value, list):
        return [_materialize(v, rng, steps) for v in value]
    if isinstance(value, tuple):
        return tuple(_materialize(v, rng, steps) for v in value)
    return value


def _sample(result, positions):
    """A few values of every array in ``result`` (nested lists, tuples and dicts too)."""
    if type(result) is np.ndarray:
        flat = result.reshape(-1)
        picks = [i % flat.size for i in positions] if flat.size else []
        return {"shape": list(result.shape), "dtype": result.dtype.str,
                "values": flat[picks].copy()}
    if isinstance(result, (list, tuple)):
        return {"items": [_sample(item, positions) for item in result]}
    if isinstance(result, dict):
        return {"keys": {k: _sample(v, positions) for k, v in result.items()}}
    return {"value": result}


def _prepare(request):
    rng = np.random.default_rng(request["seed"])
    steps = []
    for step in request["setup"]:
        fn = _resolve(step["target"])
        steps.append(fn(*_materialize(step["args"], rng, steps),
                        **_materialize(step["kwargs"], rng, steps)))
    call = request["call"]
    return (_resolve(call["target"]), _materialize(call["args"], rng, steps),
            _materialize(call["kwargs"], rng, steps))


def _bind_callbacks(value, rfd, wfd):
    if isinstance(value, protocol.Callback):
        return _Callback(rfd, wfd, value.id, value.name)
    if isinstance(value, protocol.Handle):
        return _handles[value.id]
    if isinstance(value, list):
        return [_bind_callbacks(v, rfd, wfd) for v in value]
    if isinstance(value, tuple):
        return tuple(_bind_callbacks(v, rfd, wfd) for v in value)
    if isinstance(value, dict):
        return {k: _bind_callbacks(v, rfd, wfd) for k, v in value.items()}
    return value


def serve(rfd: int, wfd: int) -> None:
    while True:
        reply = {}
        try:
            request = _bind_callbacks(protocol.read_frame_blocking(rfd), rfd, wfd)
        except EOFError:
            return
        try:
            reply = _serve_one(rfd, wfd, request)
            frame = protocol.encode(reply, on_object=_as_handle)
        except protocol.Unencodable as exc:
            what = request.get("name") or request.get("target")
            if isinstance(what, list):
                what = what[1]
            returned = reply.get("ok", exc.value)
            inner = "" if returned is exc.value else \
                f" containing {protocol.describe(exc.value)}"
            frame = protocol.encode({"error": {
                "type": "UnsupportedValue", "memory": False, "traceback": "",
                "message": f"{what} returned {protocol.describe(returned)}{inner}, which the "
                           "grader cannot accept (use ndarrays, numbers, strings, tuples, "
                           "lists, dicts)"}})
        except BaseException as exc:  # student code may raise anything, SystemExit included
            frame = protocol.encode(_error_reply(exc))
        _flush_output()
        protocol.write_frame(wfd, frame)


def _flush_output():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass


def main() -> None:
    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    os.set_inheritable(rfd, False)
    os.set_inheritable(wfd, False)
    sys.stdin = open(os.devnull)
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":  # a CUDA problem's worker, no GPU
        from grader.untrusted import cudasim
        cudasim.prepare()
    protocol.write_frame(wfd, protocol.encode({"ready": True}))  # no student code has run yet
    serve(rfd, wfd)
    os._exit(0)


if __name__ == "__main__":
    main()
