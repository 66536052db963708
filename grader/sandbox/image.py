"""``grader image build [--gpu]``: the autograder image, built without network access.

The build context is prepared here: a wheelhouse of the exact versions installed on this host
(``pip download`` on the host, since pip cannot reach an index inside ``docker build``), the
grader package, and the selected assignments. ``BASE_IMAGE`` defaults to the official
``python:3.11-slim``; where no registry answers, ``autograder_image/make_local_base.sh`` makes a
local one. Assignments with CUDA files add numba-cuda with the CUDA runtime (the simulator) and
NVVM/NVRTC (the compile check); ``--gpu`` builds ``Dockerfile.gpu``, which adds CuPy (the cuBLAS
baseline of the GPU timing) and the settings the NVIDIA container toolkit reads. Wheels are
cached between builds.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from grader.course.config import REPO_ROOT, find_assignment, solutions_dir
from grader.errors import GraderError, InfrastructureError
from grader.results.provenance import assignment_digest  # the one definition

DEFAULT_TAG = "nn-grader/autograder:latest"
DEFAULT_GPU_TAG = "nn-grader/autograder-gpu:latest"
DEFAULT_BASE = "python:3.11-slim"
RUNTIME_PACKAGES = ("numpy", "pytest", "pyyaml", "msgpack")
# The CUDA problems: the simulator needs the first three (greenlet: its threads as greenlets),
# the compile check the last two.
CUDA_PACKAGES = ("numba-cuda", "nvidia-cuda-runtime", "greenlet", "nvidia-nvvm",
                 "nvidia-cuda-nvrtc")
GPU_PACKAGES = ("cupy-cuda13x",)  # the cuBLAS baseline, on a GPU only
WHEEL_CACHE = Path.home() / ".cache" / "nn-grader" / "wheelhouse"
ASSIGNMENTS_LABEL = "nn-grader.assignments"  # {id: digest} of the assignments in the image
_NOT_COPIED = ("__pycache__", "*.pyc", "mutants")


def check_image(spec, image: str, docker_client) -> None:
    """Before grading (``grade --backend docker``, a batch): the image exists and holds this
    assignment as it is now; otherwise one InfrastructureError that says what to do."""
    import docker
    try:
        labels = docker_client.images.get(image).labels or {}
    except docker.errors.ImageNotFound:
        raise InfrastructureError(f"the image {image} is missing: build it with `grader image "
                                  "build` (with `--base IMAGE` where no registry answers)") from None
    try:
        held = json.loads(labels.get(ASSIGNMENTS_LABEL, "{}"))
    except ValueError:
        held = {}
    if spec.id not in held:
        raise InfrastructureError(f"the image {image} does not hold the assignment {spec.id}: "
                                  f"rebuild with `grader image build`")
    if held[spec.id] != assignment_digest(spec):
        raise InfrastructureError(f"the image {image} holds an older {spec.id} than "
                                  f"{spec.root} (changed since the image was built): rebuild "
                                  "with `grader image build`")


def _requirements(packages=RUNTIME_PACKAGES) -> list[str]:
    """The runtime packages pinned to the versions this host runs (tested together)."""
    pins = []
    for name in packages:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def prepare_wheelhouse(dest: Path, packages=RUNTIME_PACKAGES) -> list[str]:
    """Download the runtime wheels (cached between builds) and write requirements.txt."""
    pins = _requirements(packages)
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet",
                           "--only-binary=:all:", "--dest", str(WHEEL_CACHE), *pins],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise InfrastructureError("could not download the wheels for the image:\n"
                                  + proc.stderr[-2000:])
    # Only the wheels these pins need, not the whole cache (a COPY layer keeps every byte it
    # copies, even those the Dockerfile deletes later): resolved again, offline, from the cache.
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-index",
                           "--find-links", str(WHEEL_CACHE), "--only-binary=:all:",
                           "--dest", str(dest), *pins], capture_output=True, text=True)
    if proc.returncode != 0:
        raise InfrastructureError("could not collect the wheels for the image:\n"
                                  + proc.stderr[-2000:])
    (dest / "requirements.txt").write_text("\n".join(pins) + "\n")
    return pins


def image_packages(assignments: list[str], *, gpu: bool = False) -> tuple[str, ...]:
    """What the image needs: NumPy and pytest; numba-cuda and the CUDA compiler when an
    assignment has CUDA files (or for the GPU image); CuPy in the GPU image."""
    cuda = gpu or any(find_assignment(a).cuda.files for a in assignments)
    return RUNTIME_PACKAGES + (CUDA_PACKAGES if cuda else ()) + (GPU_PACKAGES if gpu else ())


def build_context(dest: Path, assignments: list[str], *, gpu: bool = False) -> None:
    dockerfile = "Dockerfile.gpu" if gpu else "Dockerfile"
    shutil.copy(REPO_ROOT / "autograder_image" / dockerfile, dest / "Dockerfile")
    prepare_wheelhouse(dest / "wheelhouse", image_packages(assignments, gpu=gpu))
    shutil.copytree(REPO_ROOT / "grader", dest / "grader",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / "solutions").mkdir()
    for assignment in assignments:
        spec = find_assignment(assignment)
        shutil.copytree(spec.root, dest / "solutions" / spec.id,
                        ignore=shutil.ignore_patterns(*_NOT_COPIED))


def _require_base(c, base: str) -> None:
    """The base image, here or pulled now; where neither works, say how to make one."""
    import docker
    try:
        c.images.get(base)
        return
    except docker.errors.ImageNotFound:
        pass
    try:
        c.images.pull(base)
    except docker.errors.DockerException as e:
        raise InfrastructureError(
            f"the base image {base} is not here and cannot be pulled "
            f"({str(e).splitlines()[0][:160]}); where "
            "no registry answers, make a local base with autograder_image/make_local_base.sh "
            "and pass it with `--base IMAGE`") from None


def build(*, assignments=None, base: str = DEFAULT_BASE, tag: str | None = None,
          gpu: bool = False, progress=print) -> dict:
    """Build the image (``gpu``: Dockerfile.gpu); return {"tag", "size_mb", "assignments"}."""
    tag = tag or (DEFAULT_GPU_TAG if gpu else DEFAULT_TAG)
    from grader.sandbox.docker import client

    c = client()
    assignments = list(assignments or sorted(p.parent.name for p in
                                             solutions_dir().glob("*/assignment.yaml")))
    if not assignments:
        raise GraderError("no assignments to put in the image")
    digests = {a: assignment_digest(find_assignment(a)) for a in assignments}
    _require_base(c, base)
    with tempfile.TemporaryDirectory(prefix="grader-image-") as tmp:
        ctx = Path(tmp)
        progress(f"preparing the build context ({', '.join(assignments)})")
        build_context(ctx, assignments, gpu=gpu)
        progress(f"building {tag} from {base}")
        import docker
        try:
            c.images.build(path=str(ctx), tag=tag, buildargs={"BASE_IMAGE": base}, rm=True,
                           forcerm=True, network_mode="none",
                           labels={"nn-grader.image": "1",
                                   ASSIGNMENTS_LABEL: json.dumps(digests, sort_keys=True)})
        except docker.errors.BuildError as e:
            log = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in e.build_log)
            raise InfrastructureError(f"docker build failed: {e.msg}\n{log[-3000:]}") from None
        except docker.errors.APIError as e:
            raise InfrastructureError(f"docker build failed: {e}") from None
    size_mb = c.images.get(tag).attrs["Size"] / 1e6
    return {"tag": tag, "size_mb": size_mb, "assignments": assignments, "gpu": gpu,
            "cuda": any(p in CUDA_PACKAGES for p in image_packages(assignments, gpu=gpu))}
