"""The harness side of the trust boundary: proxies that look like the student's module.

``StudentModules`` is what tests receive as the ``student`` fixture. Attribute access returns a
``Remote`` that, when called, sends one request to the worker and returns the decoded reply;
classes come back as ``RemoteObject`` handles with method calls and attribute get/set. Every
reply is read with a deadline and decoded by ``protocol.decode_body`` (no pickle, allow-listed
dtypes, caps). When a call times out or the worker dies, the worker and everything it started
are killed and the next call starts a fresh one (the student's files are imported again).

``inspect`` calls put the array arguments in shared memory the harness owns
(``grader.wire.shared``) and read them back from the harness's own mapping after the reply: what
a test sees of its arguments after a call is observed, never reported by the worker.
"""
from __future__ import annotations

import os
import select
import struct
import time
from dataclasses import dataclass

from grader.sandbox.call_clock import CallClock
from grader.wire import protocol
from grader.wire.protocol import Callback, Handle, ProtocolError
from grader.wire.shared import SharedMemory


class StudentFailure(Exception):
    """Base of the ways a call into student code can fail; ``kind`` names the failure kind."""

    kind = "error"


class StudentError(StudentFailure):
    """Student code raised an exception (or returned something that cannot cross)."""

    def __init__(self, type_name: str, message: str, traceback: str = "", *, memory=False):
        self.type_name, self.message, self.student_traceback = type_name, message, traceback
        self.kind = "memory" if memory else "error"
        text = f"{type_name}: {message}" if message else type_name
        if traceback:
            text += "\nIn your code:\n" + traceback.rstrip()
        super().__init__(text)


class WorkerTimeout(StudentFailure):
    kind = "timeout"


class WorkerCrashed(StudentFailure):
    kind = "crash"


class WorkerUnavailable(StudentFailure):
    """The sandbox could not start a worker: the grader's fault, never the student's."""

    kind = "infrastructure"


class WorkerOutOfMemory(StudentFailure):
    """The worker's processes together used more memory than its sandbox allows."""

    kind = "memory"


class MachineFault(StudentFailure):
    """The worker died or stalled for a reason outside its own code: killed from outside its
    sandbox, by the machine running out of memory, frozen, or kept from a CPU until the
    call's backstop. Never the student's fault: the harness runs the test once more, and if it
    happens again the submission is ``infrastructure`` (regraded), never a lost point."""

    kind = "infrastructure"


class _Undecidable(Exception):
    """The call is past its wall-clock backstop without being over its limit."""


class BadReply(StudentFailure):
    """The worker sent something that breaks the protocol (forged or corrupted frames)."""

    kind = "error"


@dataclass
class Call:
    """A call's result together with its arguments as the harness observed them after the call:
    every array is read from shared memory the harness owns (the student's code worked on views
    of it); everything else is the harness's own object."""

    result: object
    args: tuple
    kwargs: dict


VERDICT_EVERY = 0.05  # seconds between judgements of a call's time while its output flows


class _WallClock:
    """A plain deadline on the wall clock (the worker's greeting: no student code runs yet)."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def verdict(self) -> str | None:
        return "timeout" if time.monotonic() >= self.deadline else None

    def next_check(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


def _read_frame(worker, clock) -> bytes:
    """Read one frame body from the worker before ``clock`` runs out, or raise (TimeoutError,
    or _Undecidable). A reply already waiting is always read, however late the harness itself
    got to it. Drains the worker's output meanwhile, so that printing never blocks it."""
    fd, out = worker.from_worker, worker.output
    if fd < 0:
        raise EOFError

    checked = [time.monotonic()]

    def read(n: int) -> bytes:
        chunks = []
        while n:
            ready = select.select([fd] + ([out.fd] if out.fd >= 0 else []), [], [],
                                  clock.next_check())[0]
            if out.fd in ready:
                out.drain()
            if fd not in ready:
                # A worker that prints without pause wakes us often: judge its time a few
                # times a second, not on every chunk of its output.
                if ready and time.monotonic() - checked[0] < VERDICT_EVERY:
                    continue
                checked[0] = time.monotonic()
                verdict = clock.verdict()
                if verdict is None or select.select([fd], [], [], 0)[0]:
                    continue
                if verdict == "timeout":
                    raise TimeoutError
                raise _Undecidable(verdict)
            chunk = os.read(fd, min(n, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    (length,) = struct.unpack("<I", read(4))
    if length > protocol.MAX_FRAME_BYTES or length < 8:
        raise ProtocolError(f"a reply of {length} bytes is outside the frame limits")
    # The buffer count and the header's length first: a header over its cap is refused before
    # any of it is read, so a forged reply costs us the few bytes read so far.
    prefix = read(8)
    n_buffers, header_len = struct.unpack("<II", prefix)
    protocol.check_prefix(n_buffers, header_len, length)
    return prefix + read(length - 8)


def _killed_from_outside(worker) -> bool:
    """The worker's pipe closed: did something outside its sandbox kill it? Only a jailed
    worker can tell (PID 1 of its namespace: nothing inside can SIGKILL it), and only when we
    did not kill it ourselves (the caller rules out its own memory limit first)."""
    return worker.namespace_init and not worker.killed_by_us and worker.died_of_sigkill()


class WorkerSession:
    """Owns the current worker for one submission; restarts it after a timeout or crash."""

    def __init__(self, sandbox, modules: list[str], *, call_timeout: float = 10.0,
                 load_timeout: float = 10.0, prestarted=None):
        self.sandbox, self.modules = sandbox, modules
        self.call_timeout, self.load_timeout = call_timeout, load_timeout
        self.worker = None
        self._starting = prestarted  # a worker started ahead of time, not yet loaded
        self._callbacks: dict[int, object] = {}
        self.generation = 0  # bumped on every restart; stale handles are refused
        self._load_failure: StudentFailure | None = None
        self._orphan_output = ""
        # Seconds of this session's calls that were the machine's (waiting for a CPU or for
        # memory): a submission's total time limit is not charged for them either.
        self.machine_time = 0.0

    # -- lifecycle ------------------------------------------------------------------------------
    def prestart(self) -> None:
        """Start the interpreter early (imports numpy) without running any student code."""
        if self.worker is None and self._starting is None:
            self._starting = self.sandbox.start()

    def ensure(self):
        """The worker, started and with the student's files loaded (it may raise)."""
        return self._ensure()

    def _ensure(self):
        if self.worker is not None:
            return self.worker
        if self._load_failure is not None:
            # Importing the student's files failed once (syntax error, exception or loop at
            # import time); it would fail the same way again, so say so without a restart.
            raise self._load_failure.with_traceback(None)
        worker = self._starting or self.sandbox.start()
        self._starting = None
        self._wait_ready(worker)
        self.worker = worker
        self.generation += 1
        try:
            self._request({"op": "load", "dir": worker.student_dir, "modules": self.modules},
                          timeout=max(self.load_timeout, self.call_timeout))
        except MachineFault:  # not the student's files: the next test starts a fresh worker
            self.discard()
            raise
        except StudentFailure as failure:
            failure.args = (f"importing your files failed: {failure}",)
            self._load_failure = failure
            self.discard()
            raise
        return worker

    def _wait_ready(self, worker) -> None:
        """The worker says hello before it reads any request; if it dies or hangs first, the
        sandbox is broken (no student code has run), and that is an infrastructure failure."""
        try:
            hello = protocol.decode_body(_read_frame(worker, _WallClock(30)))
            if hello == {"ready": True}:
                return
            problem = "an unexpected greeting"
        except (TimeoutError, EOFError, ProtocolError) as e:
            problem = type(e).__name__
        worker.kill()
        log = (worker.output.take() + (worker.diagnostics.take() if worker.diagnostics else "")
               ).strip()[-1500:]
        self._load_failure = WorkerUnavailable(
            f"the sandbox could not start the worker ({problem}; {worker.exit_description()})"
            + (f":\n{log}" if log else ""))
        raise self._load_failure

    def discard(self) -> None:
        if self.worker is not None:
            self.worker.kill()
            self.worker = None

    def close(self) -> None:
        self.discard()
        if self._starting is not None:
            self._starting.kill()
            self._starting = None

    def take_output(self) -> str:
        text, self._orphan_output = self._orphan_output, ""
        return text + (self.worker.output.take() if self.worker is not None else "")

    # -- requests -------------------------------------------------------------------------------
    def _encode_arg(self, obj):
        if isinstance(obj, RemoteObject):
            if obj._generation != self.generation:
                raise StudentError("StaleObject", "this object belonged to a worker that was "
                                   "restarted after an earlier failure")
            return Handle(obj._handle.id, obj._handle.type_name)
        if callable(obj):
            cid = len(self._callbacks) + 1
            self._callbacks[cid] = obj
            return Callback(cid, getattr(obj, "__name__", "f"))
        return None

    def _request(self, message: dict, *, timeout: float | None = None, fds=()):
        worker = self.worker
        limit = timeout or self.call_timeout
        body = protocol.encode(message, on_object=self._encode_arg)
        clock = None
        try:
            protocol.send_frame(worker.to_worker, body, fds)
            # Charged from the moment the request is the worker's (sandbox/call_clock.py).
            clock = CallClock(limit, worker.worker_pid(), worker.uid, worker.cgroup,
                              namespace_init=worker.namespace_init)
            while True:
                reply = protocol.decode_body(_read_frame(worker, clock))
                if not isinstance(reply, dict):
                    raise ProtocolError("the reply is not a message")
                if "callback" in reply:
                    wall, cpu = time.monotonic(), time.thread_time()
                    self._answer_callback(worker, reply)
                    clock.callbacks += max(0.0, (time.monotonic() - wall)
                                                 - (time.thread_time() - cpu))
                    continue
                break
        except TimeoutError:
            self.machine_time += clock.machine_time() if clock is not None else 0.0
            self._fail()
            raise WorkerTimeout(f"no answer within {limit:g} s "
                                "(an infinite loop, or far too slow?)") from None
        except _Undecidable as e:
            waited = clock.waited() if clock is not None else 0.0
            self._fail()
            if str(e) == "frozen":
                raise MachineFault("the worker was frozen from outside its sandbox (not by your "
                                   "code) during this call") from None
            raise MachineFault(f"the machine was too busy to run this call: the worker waited "
                               f"{waited:.1f} s for a CPU (not your code's doing)") from None
        except (EOFError, BrokenPipeError):
            over_memory = worker.cgroup is not None and worker.cgroup.memory_limit_hit()
            outside = not over_memory and _killed_from_outside(worker)
            how = self._fail()
            if over_memory:
                raise WorkerOutOfMemory(f"your code's processes used more memory than the "
                                        f"sandbox allows, all together ({how})") from None
            if outside:
                raise MachineFault(f"the worker was {how} from outside its sandbox (another "
                                   "process, or the machine out of memory), not by your "
                                   "code") from None
            raise WorkerCrashed(f"your code ended the worker process ({how})") from None
        except ProtocolError as e:
            self._fail()
            raise BadReply(f"the worker sent a malformed reply: {e}") from None
        finally:
            self._callbacks.clear()
        self.machine_time += clock.machine_time()
        if "error" in reply:
            err = reply["error"]
            if not isinstance(err, dict):
                raise BadReply("the worker sent a malformed error")
            raise StudentError(str(err.get("type", "Error"))[:100],
                               str(err.get("message", ""))[:2000],
                               str(err.get("traceback", ""))[:4000],
                               memory=bool(err.get("memory")))
        if "ok" not in reply:
            raise BadReply("the worker sent a reply without a result")
        return reply

    def _answer_callback(self, worker, reply):
        fn = self._callbacks.get(reply.get("callback"))
        args, kwargs = reply.get("args", []), reply.get("kwargs", {})
        if fn is None or not isinstance(args, list) or not isinstance(kwargs, dict):
            answer = {"error": "unknown callback"}
        else:
            try:
                answer = {"ok": fn(*[self._wrap(a) for a in args],
                                   **{k: self._wrap(v) for k, v in kwargs.items()})}
            except Exception as e:  # the trusted function rejected the student's input
                answer = {"error": f"{type(e).__name__}: {e}"}
        protocol.send_frame(worker.to_worker, protocol.encode(answer))

    def _fail(self) -> str:
        worker, self.worker = self.worker, None
        worker.kill()
        self._orphan_output += worker.output.take()  # what it printed before it died counts
        return worker.exit_description()

    def _wrap(self, value):
        """Turn handles in a decoded reply into RemoteObjects."""
        if isinstance(value, Handle):
            return RemoteObject(self, value)
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._wrap(v) for v in value)
        if isinstance(value, dict):
            return {k: self._wrap(v) for k, v in value.items()}
        return value

    def call(self, target, args, kwargs, *, observe=False, timeout=None):
        """Call ``target`` in the worker. ``observe``: the array arguments go to shared memory
        the harness owns, and a ``Call`` with the arguments as they are there afterwards is
        returned along with the result."""
        self._ensure()
        message = {"op": "call", "target": target, "args": list(args), "kwargs": dict(kwargs)}
        if not observe:
            return self._wrap(self._request(message, timeout=timeout)["ok"])
        with SharedMemory(SharedMemory.bytes_for(args, kwargs)) as memory:
            placed_args, placed_kwargs = memory.place(list(args)), memory.place(dict(kwargs))
            message["args"], message["kwargs"] = placed_args, placed_kwargs
            reply = self._request(message, timeout=timeout, fds=[memory.fd])
            return Call(self._wrap(reply["ok"]),
                        tuple(memory.observe(placed_args, list(args))),
                        memory.observe(placed_kwargs, dict(kwargs)))

    def request(self, message: dict, *, timeout=None, fds=()):
        """Send one raw request (e.g. the bench's) and return its decoded result."""
        self._ensure()
        return self._wrap(self._request(message, timeout=timeout, fds=fds)["ok"])

    def getattr(self, target, name):
        self._ensure()
        return self._wrap(self._request({"op": "getattr", "target": target, "name": name})["ok"])

    def setattr(self, target, name, value):
        self._ensure()
        self._request({"op": "setattr", "target": target, "name": name, "value": value})


class Remote:
    """A function or class of the student's modules; calling it runs it in the worker."""

    def __init__(self, session: WorkerSession, module: str | None, name: str):
        self._session, self._target, self.__name__ = session, [module, name], name

    def __call__(self, *args, **kwargs):
        return self._session.call(self._target, args, kwargs)

    def inspect(self, *args, **kwargs) -> Call:
        """Call, and also return the arguments as the harness observes them after the call
        (in its own shared memory: nothing the worker reports)."""
        return self._session.call(self._target, args, kwargs, observe=True)

    def __repr__(self):
        return f"<student's {self.__name__}>"


class RemoteMethod:
    def __init__(self, obj: "RemoteObject", name: str):
        self._obj, self.__name__ = obj, name

    def _target(self):
        obj = self._obj
        if obj._generation != obj._session.generation:
            raise StudentError("StaleObject", "this object belonged to a worker that was "
                               "restarted after an earlier failure")
        return obj._handle.id

    def __call__(self, *args, **kwargs):
        return self._obj._session.call([self._target(), self.__name__], args, kwargs)

    def inspect(self, *args, **kwargs) -> Call:
        return self._obj._session.call([self._target(), self.__name__], args, kwargs,
                                       observe=True)


class RemoteObject:
    """A handle to an object living in the worker (an instance of a student's class)."""

    def __init__(self, session: WorkerSession, handle: Handle):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_generation", session.generation)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._handle.methods:
            return RemoteMethod(self, name)
        return self._session.getattr(self._handle.id, name)

    def __setattr__(self, name, value):
        self._session.setattr(self._handle.id, name, value)

    def __call__(self, *args, **kwargs):
        return RemoteMethod(self, "__call__")(*args, **kwargs)

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return RemoteMethod(self, "__next__")()
        except StudentError as e:
            if e.type_name == "StopIteration":
                raise StopIteration from None
            raise

    def __repr__(self):
        return repr(self._handle)


class StudentModules:
    """The ``student`` fixture: ``student.name`` or ``student.module.name``."""

    def __init__(self, session: WorkerSession, modules: list[str], module: str | None = None):
        self._session, self._modules, self._module = session, modules, module

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if self._module is None and name in self._modules:
            return StudentModules(self._session, self._modules, name)
        return Remote(self._session, self._module, name)

    def __call__(self, *args, **kwargs):
        """``student.affine(...)`` when ``affine`` names both a file and its function."""
        if self._module is None:
            raise TypeError("the student fixture is not callable")
        return Remote(self._session, self._module, self._module)(*args, **kwargs)
