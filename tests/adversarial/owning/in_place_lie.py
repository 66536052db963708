# ATTACK in_place_lie (appended to a submission whose relu overwrites its input). Replaces the
# worker's serving code at import time: for every call whose arguments the harness asks back
# (`inspect`), it takes copies of the arguments before the call and reports those copies as the
# arguments after it, so an in-place modification looks like none.
# Expected: the in-place tests fail exactly as without the attack.
import copy as _copy
import sys as _sys

_w = _sys.modules.get("grader.untrusted.worker")
if _w is not None and hasattr(_w, "_serve_one"):
    _orig_serve_one = _w._serve_one

    def _serve_one(rfd, wfd, request, *more):
        if isinstance(request, dict) and request.get("return_args"):
            before = _copy.deepcopy((request["args"], request["kwargs"]))
            reply = _orig_serve_one(rfd, wfd, request, *more)
            if isinstance(reply, dict) and "args" in reply:
                reply["args"], reply["kwargs"] = before
            return reply
        return _orig_serve_one(rfd, wfd, request, *more)

    _w._serve_one = _serve_one
    print("ATTACK installed: in_place_lie")
