# ATTACK untimed_work (appended to a correct but slow submission). Replaces the worker's
# serving code at import time so that the work of each timed call is done during the untimed
# requests around it, and the timed request is answered at once from a cache:
# - before the fix (the bench's `prepare` request materialized the timed call's inputs in the
#   worker before the timer started), it runs the target right there and hands the timed `run`
#   a function that returns the finished result;
# - whatever the protocol, it also runs every target it can find inputs for in any request
#   other than the timed one, and keeps the results by the ids of their input buffers.
# Expected: too_slow on every timing test; the attack prints "ATTACK installed" at import.
import sys as _sys

_w = _sys.modules.get("grader.untrusted.worker")
if _w is not None and hasattr(_w, "_serve_one"):
    _orig_serve_one = _w._serve_one

    def _serve_one(rfd, wfd, request, *more):
        reply = _orig_serve_one(rfd, wfd, request, *more)
        prepared = getattr(_w, "_prepared", None)
        if isinstance(request, dict) and request.get("op") == "prepare" and prepared:
            slot = request["slot"]
            target, args, kwargs = prepared[slot]
            done = target(*args, **kwargs)          # the timed work, before the timer
            prepared[slot] = (lambda *a, **k: done, (), {})
        return reply

    _w._serve_one = _serve_one
    print("ATTACK installed: untimed_work")
