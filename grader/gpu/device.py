"""Is there a GPU here, and what must a sandboxed worker see to use it (trusted).

``detect()`` answers once per process: ``GRADER_GPU=0`` says no; otherwise the NVIDIA device
files must exist and the driver (``libcuda.so.1``) must initialise and report a device, asked in
a short child process so that the grading process never holds a CUDA context (it forks).
A ``Gpu`` tells the local sandbox what a GPU worker needs: the device files (jail mode binds
them), the driver's library folders (bound, and on ``LD_LIBRARY_PATH``) and no simulator switch.
"""
from __future__ import annotations

import functools
import glob
import os
import subprocess
import sys
from dataclasses import dataclass

_PROBE = r"""
import ctypes, sys
lib = ctypes.CDLL("libcuda.so.1")
if lib.cuInit(0) != 0:
    sys.exit(3)
n = ctypes.c_int(0)
if lib.cuDeviceGetCount(ctypes.byref(n)) != 0 or n.value < 1:
    sys.exit(4)
name = ctypes.create_string_buffer(256)
lib.cuDeviceGet(ctypes.byref(ctypes.c_int()), 0)
lib.cuDeviceGetName(name, 256, 0)
major, minor = ctypes.c_int(), ctypes.c_int()
lib.cuDeviceGetAttribute(ctypes.byref(major), 75, 0)
lib.cuDeviceGetAttribute(ctypes.byref(minor), 76, 0)
import os
print(name.value.decode(errors="replace"), major.value, minor.value, sep="\t")
for line in open("/proc/self/maps"):
    if "libcuda.so" in line:
        print(line.split()[-1])
        break
"""


@dataclass(frozen=True)
class Gpu:
    name: str
    compute_capability: tuple[int, int]
    driver_library: str  # the libcuda.so.1 the probe loaded

    def device_files(self) -> list[str]:
        return sorted(p for p in glob.glob("/dev/nvidia*") if not os.path.isdir(p)) + \
            sorted(glob.glob("/dev/dri/renderD*"))

    def library_dirs(self) -> list[str]:
        return [os.path.dirname(self.driver_library)] if self.driver_library else []

    def environment(self) -> dict[str, str]:
        env = {}
        if self.library_dirs():
            env["LD_LIBRARY_PATH"] = ":".join(self.library_dirs())
        return env

    def describe(self) -> str:
        return f"{self.name} (compute capability {self.compute_capability[0]}." \
               f"{self.compute_capability[1]})"


@functools.lru_cache(maxsize=1)
def detect() -> Gpu | None:
    """The first GPU of this machine, or None."""
    if os.environ.get("GRADER_GPU", "").lower() in ("0", "no", "off", "false"):
        return None
    if not os.path.exists("/dev/nvidiactl") and not glob.glob("/dev/nvidia[0-9]*"):
        return None
    try:
        proc = subprocess.run([sys.executable, "-I", "-c", _PROBE], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    lines = proc.stdout.strip().splitlines()
    name, major, minor = lines[0].split("\t")
    library = lines[1].strip() if len(lines) > 1 else ""
    return Gpu(name=name, compute_capability=(int(major), int(minor)), driver_library=library)


def why_not() -> str:
    """One line for reports: why GPU-only tests did not run here."""
    if os.environ.get("GRADER_GPU", "").lower() in ("0", "no", "off", "false"):
        return "GRADER_GPU=0 switches the GPU off"
    if not os.path.exists("/dev/nvidiactl") and not glob.glob("/dev/nvidia[0-9]*"):
        return "this machine has no NVIDIA GPU (no /dev/nvidia* device files)"
    return "the NVIDIA driver did not initialise a device here"
