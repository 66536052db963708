# ATTACK output_grows_when_escaped (appended to a correct submission). Every call prints a
# flood of control characters, each of which takes six bytes once escaped in the harness's
# JSON events (\u0001): a cap counted on the raw bytes lets the stored events grow six-fold.
# Expected: full marks on both backends; each test's stored output within its cap.
import builtins as _builtins
import functools as _functools
import sys as _sys

_FLOOD = "\x01\x02\x1b" * 200_000


def _noisy(fn):
    @_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _sys.stdout.write(_FLOOD)
        return fn(*args, **kwargs)
    return wrapper


for _name, _value in list(globals().items()):
    if callable(_value) and not _name.startswith("_") and getattr(_value, "__module__", None) == __name__:
        if isinstance(_value, type):
            for _attr, _method in list(vars(_value).items()):
                if callable(_method) and not _attr.startswith("__"):
                    setattr(_value, _attr, _noisy(_method))
        else:
            globals()[_name] = _noisy(_value)
print("ATTACK installed: output_grows_when_escaped")
