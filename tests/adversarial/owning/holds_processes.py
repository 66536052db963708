# ATTACK holds_processes (appended to a submission graded next to another one). At import,
# starts as many sleeping processes as the worker's process limit allows and keeps them for a
# minute. The limit counts processes per uid across the whole machine: where every container
# gives its worker the same uid, a neighbour's worker can no longer start (its fork or exec
# fails), and its tests read as the grader's fault or the student's crash.
# Expected: the neighbour scores exactly as when graded alone.
import os as _os
import time as _time

_held = 0
for _ in range(200):
    try:
        if _os.fork() == 0:
            _time.sleep(60)
            _os._exit(0)
        _held += 1
    except OSError:
        break
print(f"ATTACK installed: holds_processes ({_held} held, uid {_os.getuid()})")
_time.sleep(6)   # keep this container alive while the neighbour's start
