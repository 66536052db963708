"""The CUDA compile check: a student's kernel compiled for a real GPU target, in a process where
no student code ever runs (so its answer can be believed).

The simulator runs code a GPU rejects (NumPy calls, lists, plain Python helpers, return values),
and a worker that imported the student's module can claim anything about itself. So this
process, started confined by ``sandbox/local.py`` (entry ``grader.gpu.compile_check``, *without*
``NUMBA_ENABLE_CUDASIM``), is sent the source text the harness read before any student code ran,
and never executes it:

- ``compile()`` turns the source into code objects (no execution); the kernel's and its helpers'
  code objects are picked from the module's constants;
- each becomes a function through ``types.FunctionType`` over a globals dict built here: the
  modules numba, numpy and math (imported by us), module-level constants read with
  ``ast.literal_eval`` only, and the module's other functions built the same way;
- decorators are read from the AST, never run: ``@cuda.jit`` / ``@cuda.jit(device=True, ...)``;
- ``numba.cuda.compile_ptx`` types and lowers the bytecode for the target compute capability
  (≥ 7.5 with the CUDA 13 compiler) without running it, and returns PTX, which the harness reads
  (``grader.gpu.ptx``).

Requests arrive as frames (``grader.wire.protocol``): ``load`` (answered with nothing: there is
nothing to load) and ``compile`` (see ``check_kernel``).
"""
from __future__ import annotations

import ast
import builtins
import linecache
import os
import re
import sys
import types

from grader.wire import protocol

ALLOWED_MODULES = ("math", "numpy", "numba", "numba.cuda", "numba.types", "numba.core.types")
MAX_PTX_CHARS = 900_000
DECORATOR_OPTIONS = ("device", "fastmath", "inline", "forceinline")


class Rejected(Exception):
    """The source breaks a rule of the check (stage ``rules``) before compilation."""


def _import(name: str):
    __import__(name)
    return sys.modules[name]


class ModuleScan:
    """What the module's top level binds, read from the AST only."""

    def __init__(self, tree: ast.Module, code: types.CodeType, module_name: str):
        self.module_name = module_name
        self.bindings: dict[str, object] = {}  # imports of allowed modules, literal constants
        self.unresolved: dict[str, str] = {}   # name -> why it is not available to kernels
        self.functions: dict[str, tuple[ast.FunctionDef, types.CodeType]] = {}
        codes: dict[str, list] = {}
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                codes.setdefault(const.co_name, []).append(const)
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self._bind_import(alias.asname or alias.name.split(".")[0],
                                      alias.name if alias.asname else alias.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom):
                self._bind_from(node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                self._bind_assignment(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found = codes.get(node.name, [])
                if found:
                    self.functions[node.name] = (node, found.pop(0))
                    self.bindings.pop(node.name, None)
                    self.unresolved.pop(node.name, None)
            elif isinstance(node, ast.ClassDef):
                self._unbind(node.name, "a class (kernels cannot use classes)")

    def _unbind(self, name, why):
        self.bindings.pop(name, None)
        self.functions.pop(name, None)
        self.unresolved[name] = why

    def _bind_import(self, name, module):
        if module in ALLOWED_MODULES:
            self.bindings[name] = _import(module)
            self.unresolved.pop(name, None)
        else:
            self._unbind(name, f"the module {module} (kernels may use numba, numpy and math)")

    def _bind_from(self, node: ast.ImportFrom):
        if node.level or node.module not in ALLOWED_MODULES:
            for alias in node.names:
                self._unbind(alias.asname or alias.name,
                             f"imported from {'.' * node.level}{node.module or ''} (kernels may "
                             "use numba, numpy and math)")
            return
        module = _import(node.module)
        for alias in node.names:
            name = alias.asname or alias.name
            if alias.name == "*":
                continue
            full = f"{node.module}.{alias.name}"
            if hasattr(module, alias.name):
                self.bindings[name] = getattr(module, alias.name)
                self.unresolved.pop(name, None)
            elif full in ALLOWED_MODULES:
                self._bind_import(name, full)
            else:
                self._unbind(name, f"{full}, which does not exist")

    def _bind_assignment(self, node):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        value = node.value
        for target in targets:
            names = [target] if isinstance(target, ast.Name) else (
                list(target.elts) if isinstance(target, ast.Tuple) else [])
            try:
                literal = ast.literal_eval(value) if value is not None else None
                ok = value is not None
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                literal, ok = None, False
            if isinstance(target, ast.Tuple):
                if ok and isinstance(literal, tuple) and len(literal) == len(names):
                    pairs = list(zip(names, literal))
                else:
                    pairs = [(n, None) for n in names]
                    ok = False
            else:
                pairs = [(target, literal)]
            for name_node, item in pairs:
                if not isinstance(name_node, ast.Name):
                    continue
                if ok:
                    self.bindings[name_node.id] = item
                    self.unresolved.pop(name_node.id, None)
                    self.functions.pop(name_node.id, None)
                else:
                    self._unbind(name_node.id, "a module-level name that is not a literal "
                                 "constant (write it as a number or a tuple: TILE = 16)")

    # -- decorators -------------------------------------------------------------------------
    def _resolve(self, node):
        """The object an expression made of names and attributes names, or None."""
        if isinstance(node, ast.Name):
            return self.bindings.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value)
            if isinstance(base, types.ModuleType):
                return getattr(base, node.attr, None)
        return None

    def cuda_jit_options(self, fdef) -> dict | None:
        """``{"device": bool, ...}`` when decorated with numba.cuda.jit, else None."""
        from numba import cuda

        for deco in fdef.decorator_list:
            call = deco if isinstance(deco, ast.Call) else None
            target = self._resolve(call.func if call else deco)
            if target is not cuda.jit:
                continue
            options = {"device": False}
            for kw in call.keywords if call else []:
                if kw.arg in DECORATOR_OPTIONS:
                    try:
                        options[kw.arg] = bool(ast.literal_eval(kw.value))
                    except (ValueError, TypeError, SyntaxError):
                        raise Rejected(f"@cuda.jit({kw.arg}=...) on {fdef.name} must be a "
                                       "literal True or False") from None
            return options
        return None


def _launches(fdef, kernel: str) -> bool:
    """Does the function's body contain ``kernel[...](...)``?"""
    for node in ast.walk(fdef):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Subscript) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == kernel:
            return True
    return False


def build_globals(scan: ModuleScan) -> tuple[dict, dict]:
    """The kernel's world: allowed modules and constants, and every module-level function
    rebuilt from its code object (``@cuda.jit`` ones wrapped as numba does, plain ones left
    plain, which numba refuses to call from a kernel). Returns (globals, jit options)."""
    from numba import cuda

    g = {"__builtins__": builtins, "__name__": scan.module_name}
    g.update(scan.bindings)
    options = {}
    for name, (fdef, code) in scan.functions.items():
        fn = types.FunctionType(code, g, name)
        opts = scan.cuda_jit_options(fdef)
        if opts is None:
            g[name] = fn
        else:
            options[name] = opts
            g[name] = cuda.jit(**{k: v for k, v in opts.items() if k != "forceinline"})(fn) \
                if opts["device"] else fn
    return g, options


class _TargetDevice:
    """Stands in for ``get_current_device()`` when a kernel calls a device function: numba asks
    the current device's compute capability, and without a GPU there is none."""

    def __init__(self, cc):
        self.compute_capability = tuple(cc)


def _compile(pyfunc, signature, cc, fastmath):
    from numba import cuda
    from numba.cuda import dispatcher

    original = dispatcher.get_current_device
    dispatcher.get_current_device = lambda: _TargetDevice(cc)
    try:
        ptx, _ = cuda.compile_ptx(pyfunc, signature, cc=tuple(cc), fastmath=fastmath)
    finally:
        dispatcher.get_current_device = original
    return ptx


_UNTYPED = re.compile(r"Untyped global name '(\w+)'|NameError: name '(\w+)' is not defined")
_FUNCTION = re.compile(r"No implementation of function Function\(<(?:built-in )?function (\w+)")


def explain(message: str, scan: ModuleScan, kernel: str) -> str:
    """A student-sized reason for a numba error, with numba's own first lines."""
    import numpy

    hint = ""
    untyped = _UNTYPED.search(message)
    function = _FUNCTION.search(message)
    if untyped:
        name = untyped.group(1) or untyped.group(2)
        if name in scan.functions:
            hint = (f"it calls {name}, a plain Python function: a GPU can only run functions "
                    f"decorated with @cuda.jit(device=True)")
        elif name in scan.unresolved:
            hint = f"it uses {name}, {scan.unresolved[name]}"
        else:
            hint = f"it uses {name}, which is not defined where the GPU can see it"
    elif function and hasattr(numpy, function.group(1)):
        hint = (f"it calls numpy.{function.group(1)}: a GPU kernel cannot allocate memory or "
                "call NumPy's array functions; loop over elements, or use cuda.local.array / "
                "cuda.shared.array with a constant shape")
    elif "numpy" in message.lower() and ("unsupported" in message.lower()
                                         or "Unknown attribute" in message
                                         or "No implementation of function" in message
                                         or "Invalid use of" in message):
        hint = ("it calls a NumPy function that creates or returns arrays: a GPU kernel cannot "
                "allocate memory or call NumPy; loop over elements, or use cuda.local.array / "
                "cuda.shared.array with a constant shape")
    elif "return_value" in message or "must have void return type" in message:
        hint = "a kernel cannot return a value: write its results into an output array"
    elif "reflected list" in message or "List(" in message or "list(" in message \
            or "DictType" in message or "build_map" in message or "build_list" in message:
        hint = "lists and dicts do not exist on a GPU: use arrays of a constant shape"
    elif "set_try_status" in message or "try-except" in message or "SETUP_FINALLY" in message:
        hint = "try/except is not supported on a GPU"
    elif "shared.array" in message or "local.array" in message:
        hint = ("cuda.shared.array and cuda.local.array need a constant shape (numbers, or "
                "module-level literal constants such as TILE), not one computed at run time")
    elif "cannot determine Numba type" in message:
        hint = "it uses a Python object the GPU cannot represent"
    lines = [ln for ln in message.splitlines() if ln.strip()][:12]
    head = f"{kernel} does not compile for a GPU"
    return (f"{head}: {hint}." if hint else f"{head}.") + "\nThe compiler said:\n  " + \
        "\n  ".join(ln[:300] for ln in lines)


def check_kernel(source: str, filename: str, kernel: str, signature: str, cc,
                 launched_by: str | None = None) -> dict:
    """Compile ``kernel`` of ``source`` for compute capability ``cc`` with ``signature``.

    Returns ``{"ok": bool, "stage": "source" | "rules" | "compile" | "toolchain" | "done",
    "message": str, "ptx": str}``.
    """
    module_name = os.path.splitext(os.path.basename(filename))[0]

    def fail(stage, message):
        return {"ok": False, "stage": stage, "message": message, "ptx": ""}

    # numba quotes the offending source lines from linecache: let it find them.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        tree = ast.parse(source, filename)
        code = compile(tree, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        where = f" (line {e.lineno})" if getattr(e, "lineno", None) else ""
        return fail("source", f"{filename} does not parse: {getattr(e, 'msg', e)}{where}")
    try:
        scan = ModuleScan(tree, code, module_name)
        if kernel not in scan.functions:
            raise Rejected(f"{filename} defines no function {kernel}: keep the kernel's name "
                           "from the skeleton")
        g, options = build_globals(scan)
        if kernel not in options or options[kernel]["device"]:
            raise Rejected(f"{kernel} must be a kernel: decorate it with @cuda.jit (and import "
                           "cuda with `from numba import cuda`)")
        others = sorted(n for n, o in options.items() if not o["device"] and n != kernel)
        if others:
            raise Rejected(f"{filename} defines other kernels ({', '.join(others)}): the grader "
                           f"compiles and times {kernel}; make helpers "
                           "@cuda.jit(device=True) functions called from it")
        if launched_by:
            host = scan.functions.get(launched_by)
            if host is None or not _launches(host[0], kernel):
                raise Rejected(f"{launched_by} must launch {kernel} itself "
                               f"({kernel}[blocks, threads](...))")
    except Rejected as e:
        return fail("rules", str(e))
    broken = toolchain_problem(tuple(cc))
    if broken:  # the grader's problem, never the student's
        return fail("toolchain", broken)
    try:
        ptx = _compile(g[kernel], signature, cc, options[kernel].get("fastmath", False))
    except Exception as e:  # numba's typing and lowering errors, NVVM's complaints
        return fail("compile", explain(f"{type(e).__name__}: {e}", scan, kernel))
    if len(ptx) > MAX_PTX_CHARS:
        return fail("compile", f"{kernel} compiles to {len(ptx)} characters of PTX: too large "
                    "for the grader to read")
    return {"ok": True, "stage": "done", "message": "", "ptx": ptx}


_toolchain: dict = {}


# The target the harness sets the compiler up for ("7.5"); the same name as
# ``grader.sandbox.worker_kinds.COMPILE_TARGET_VAR`` (this side imports the wire format only).
TARGET_VAR = "GRADER_COMPILE_TARGET"


def configured_target() -> tuple[int, int]:
    found = re.fullmatch(r"(\d+)\.(\d+)", os.environ.get(TARGET_VAR, ""))
    return (int(found[1]), int(found[2])) if found else (7, 5)


def _probe(a):
    """A kernel of ours that any working toolchain compiles."""
    a[0] = 1.0


def _compile_probe(cc) -> None:
    _compile(_probe, "void(float64[:])", cc, False)


def set_up_compiler() -> None:
    """Import numba-cuda and compile the probe for the configured target: NVVM's loading and
    set-up, done once in the compile template. Its answer is not kept: each process asks
    ``toolchain_problem`` itself."""
    from numba import cuda  # noqa: F401
    try:
        _compile_probe(configured_target())
    except Exception:  # noqa: BLE001 (toolchain_problem says what is wrong, per request)
        pass


def toolchain_problem(cc) -> str:
    """Empty when the probe compiles for ``cc`` here; else why not (NVVM or NVRTC missing):
    then no compile error can be blamed on the student."""
    if cc not in _toolchain:
        try:
            _compile_probe(cc)
            _toolchain[cc] = ""
        except Exception as e:
            _toolchain[cc] = ("the CUDA compiler (NVVM, NVRTC) does not work where the grader "
                              f"runs (pip install 'nn-grader[cuda-compile]'): "
                              f"{type(e).__name__}: {str(e)[:400]}")
    return _toolchain[cc]


def serve(reader, wfd: int) -> None:
    while True:
        try:
            request, fds = reader.read()
        except EOFError:
            return
        for fd in fds:  # the harness sends none here; never keep one
            os.close(fd)
        op = request.get("op") if isinstance(request, dict) else None
        if op == "load":
            reply = {"ok": None}
        elif op == "compile":
            reply = {"ok": check_kernel(request["source"], request["filename"],
                                        request["kernel"], request["signature"],
                                        request["cc"], request.get("launched_by"))}
        else:
            reply = {"error": {"type": "ValueError", "message": f"unknown op {op!r}",
                               "traceback": "", "memory": False}}
        sys.stdout.flush()
        sys.stderr.flush()
        protocol.write_frame(wfd, protocol.encode(reply))


def main() -> None:
    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    os.set_inheritable(rfd, False)
    os.set_inheritable(wfd, False)
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        raise SystemExit("the compile check cannot run with the simulator switched on")
    # Before the greeting, while the harness runs other tests: numba's import (half a second)
    # and the compiler's set-up (as much again). Forked from a template, both are done.
    toolchain_problem(configured_target())
    protocol.write_frame(wfd, protocol.encode({"ready": True}))
    serve(protocol.RequestReader(rfd), wfd)
    os._exit(0)


if __name__ == "__main__":
    main()
