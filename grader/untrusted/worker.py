"""The untrusted side: runs inside the sandbox, imports the student's files and serves calls.

Everything here may be subverted by the student's code (it shares the process, and may replace
any function of this module at import time), so nothing here decides a score and the harness
believes nothing it says about itself: replies are decoded as hostile input
(``protocol.decode_body``), arguments the harness wants to observe after a call live in shared
memory the harness owns, and a timed call's inputs arrive only with its timed request.

Requests come over a unix socket (descriptors of the harness's shared memory may come with
them); replies go back over a pipe. Each request is a dict with an ``op``:
  load        {"dir", "modules"}               import the student's files by path
  call        {"target", "args", "kwargs"}     call a function, class or method
  getattr     {"target", "name"} / setattr {"target", "name", "value"}
  release     {"ids"}                          forget handles
  bench_setup {"steps"}                        untimed setup calls for the next timed call
  bench_call  {"target", "args", "kwargs", "index", "result"}   the timed call; its result is
              written into the shared memory at ``result`` = [offset, room]
Replies: {"ok": value}, {"error": {...}}, or, while student code runs, {"callback": id, "args",
"kwargs"} requests that the harness answers with {"ok"} or {"error"}.
"""
from __future__ import annotations

import importlib.util
import mmap
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

    def __init__(self, reader, wfd, cid, name):
        self._io, self._id, self.__name__ = (reader, wfd), cid, name

    def __call__(self, *args, **kwargs):
        reader, wfd = self._io
        protocol.write_frame(wfd, protocol.encode(
            {"callback": self._id, "args": list(args), "kwargs": kwargs}, on_object=_as_handle))
        _flush_output()
        reply, fds = reader.read()
        for fd in fds:
            os.close(fd)
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


def _serve_one(reader, wfd, request):
    op = request.get("op")
    if op == "load":
        return {"ok": _load(request)}
    if op == "call":
        fn = _resolve(request["target"])
        return {"ok": fn(*request["args"], **request["kwargs"])}
    if op == "getattr":
        return {"ok": getattr(_resolve(request["target"]), request["name"])}
    if op == "setattr":
        setattr(_resolve(request["target"]), request["name"], request["value"])
        return {"ok": None}
    if op == "release":
        for hid in request["ids"]:
            _handles.pop(hid, None)
        return {"ok": None}
    if op == "bench_setup":
        _bench_steps[:] = []
        for step in request["steps"]:
            fn = _resolve(step["target"])
            _bench_steps.append(fn(*_with_steps(step["args"]), **_with_steps(step["kwargs"])))
        return {"ok": None}
    if op == "bench_call":
        # Timed by the harness from outside, from sending this request (the inputs come with
        # it, in shared memory) to our reply (the result is in the shared memory by then).
        fn = _resolve(request["target"])
        result = fn(*_with_steps(request["args"]), **_with_steps(request["kwargs"]))
        if request.get("index") is not None:
            result = result[request["index"]]
        offset, room = request["result"]
        region = memoryview(request["$maps"][0])[offset:offset + room]
        try:
            return {"ok": protocol.encode_into(region, result, on_object=_as_handle)}
        finally:
            region.release()
    raise ValueError(f"unknown op {op!r}")


# -- timing support (see grader/harness/bench.py) ------------------------------------------------
_bench_steps: list = []  # results of the untimed setup calls before the next timed call


def _with_steps(value):
    """Replace ``{"$$step": [i, index]}`` by the result of setup call i (or element index)."""
    if isinstance(value, dict):
        if set(value) == {"$$step"}:
            step, index = value["$$step"]
            result = _bench_steps[step]
            return result if index is None else result[index]
        return {k: _with_steps(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_steps(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_with_steps(v) for v in value)
    return value


def _bind(value, reader, wfd, maps):
    """Placeholders to live objects: callbacks, our handles, views of the shared memory."""
    if isinstance(value, protocol.Callback):
        return _Callback(reader, wfd, value.id, value.name)
    if isinstance(value, protocol.Handle):
        return _handles[value.id]
    if isinstance(value, protocol.SharedArray):
        count = 1
        for n in value.shape:
            count *= n
        return np.frombuffer(maps[value.fd], dtype=value.dtype, count=count,
                             offset=value.offset).reshape(value.shape)
    if isinstance(value, list):
        return [_bind(v, reader, wfd, maps) for v in value]
    if isinstance(value, tuple):
        return tuple(_bind(v, reader, wfd, maps) for v in value)
    if isinstance(value, dict):
        return {k: _bind(v, reader, wfd, maps) for k, v in value.items()}
    return value


def _map_all(fds) -> list:
    maps = []
    for fd in fds:
        try:
            maps.append(mmap.mmap(fd, 0))
        finally:
            os.close(fd)
    return maps


def serve(reader, wfd: int) -> None:
    while True:
        reply = {}
        try:
            message, fds = reader.read()
        except EOFError:
            return
        maps = _map_all(fds)
        request = message
        try:
            request = _bind(message, reader, wfd, maps)
            request["$maps"] = maps
            reply = _serve_one(reader, wfd, request)
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
        # Only now (after the reply, outside any timed window) unmap the shared memory and free
        # the result; the student may keep views, we keep nothing.
        del request, maps, reply


def _flush_output():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass


def main() -> None:
    request_fd, wfd = int(sys.argv[1]), int(sys.argv[2])
    os.set_inheritable(request_fd, False)
    os.set_inheritable(wfd, False)
    sys.stdin = open(os.devnull)
    protocol.write_frame(wfd, protocol.encode({"ready": True}))  # no student code has run yet
    serve(protocol.RequestReader(request_fd), wfd)
    os._exit(0)


if __name__ == "__main__":
    main()
