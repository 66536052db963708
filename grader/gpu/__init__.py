"""CUDA and GPUs: finding a GPU (device.py), the confined compile check (compile_check.py),
reading PTX (ptx.py)."""
