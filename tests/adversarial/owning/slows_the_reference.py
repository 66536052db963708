# ATTACK slows_the_reference (appended to a correct but slow submission). At import, starts
# busy processes that burn every core while the student's own code is idle -- that is, while
# the harness times the reference -- and pause while a student function runs, so that the
# reference looks slow and the student's ratio small.
# Expected: too_slow on every timing test, as without the attack.
import mmap as _mmap
import os as _os
import time as _time

_BURNERS = 16
_idle = _mmap.mmap(-1, 1)          # shared with the burners: 1 while no student call runs
_idle[0] = 1


def _burn():
    while True:
        if _idle[0]:
            for _ in range(2000):
                pass
        else:
            _time.sleep(0.005)


for _ in range(_BURNERS):
    if _os.fork() == 0:
        try:
            _burn()
        finally:
            _os._exit(0)


def _busy(fn):
    def wrapper(*args, **kwargs):
        _idle[0] = 0
        try:
            return fn(*args, **kwargs)
        finally:
            _idle[0] = 1
    wrapper.__name__ = fn.__name__
    return wrapper


for _name in ("mlp_forward", "mlp_backward", "conv2d_forward", "conv2d_backward"):
    if _name in globals():
        globals()[_name] = _busy(globals()[_name])
print(f"ATTACK installed: slows_the_reference ({_BURNERS} burners)")
