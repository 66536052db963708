"""Where results go: checked before any grading starts, so a typo in ``--out`` costs nothing."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from grader.errors import GraderError


def prepare_folder(path, *, option: str = "--out") -> Path:
    """Create ``path`` if needed and prove it is a folder we can write into; otherwise one
    clear ``GraderError`` (a file in the way, a read-only disk, no permission)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GraderError(f"{path}: exists and is not a folder; give {option} a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".grader-write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise GraderError(f"{path}: cannot write there ({e.strerror or e}); give {option} a "
                          "writable folder") from None
    return path
