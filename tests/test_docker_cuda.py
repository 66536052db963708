"""CUDA problems in the images: the CPU image and the GPU image (Dockerfile.gpu) run the
simulator and the compile check, and grade as the local sandbox does (no GPU here: the GPU-only
test is pending in both).

Skipped when no Docker engine or image is available, except where GRADER_REQUIRE_DOCKER is set
(CI builds both images): there a missing one fails the run.
"""
import os

import pytest

from grader.api import grade
from grader.course.config import REPO_ROOT
from grader.sandbox import docker as backend
from grader.sandbox.image import DEFAULT_GPU_TAG

pytest.importorskip("numba_cuda", reason="the CUDA tests need numba-cuda")

EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw2_mlp"
IMAGES = {"cpu": os.environ.get("GRADER_IMAGE", backend.DEFAULT_IMAGE),
          "gpu": os.environ.get("GRADER_GPU_IMAGE", DEFAULT_GPU_TAG)}


@pytest.fixture(params=sorted(IMAGES))
def image(request):
    tag = IMAGES[request.param]
    try:
        backend.client().images.get(tag)
    except Exception as e:
        if os.environ.get("GRADER_REQUIRE_DOCKER"):
            pytest.fail(f"Docker and the image {tag} are required here: {e}")
        pytest.skip(f"no Docker engine or no image {tag}: {e}")
    return tag


@pytest.mark.parametrize("example", ["cuda_untiled", "cuda_numpy_in_kernel"])
def test_an_image_grades_cuda_problems_like_the_local_sandbox(image, example):
    local = grade(EXAMPLES / example, assignment="hw2_mlp")
    in_docker = grade(EXAMPLES / example, assignment="hw2_mlp", backend="docker", image=image)
    cuda = [(t["name"], t["score"], t["kind"]) for t in in_docker["tests"]
            if t["problem"].startswith("linear_cuda")]
    assert cuda == [(t["name"], t["score"], t["kind"]) for t in local["tests"]
                    if t["problem"].startswith("linear_cuda")]
    assert in_docker["status"] == local["status"] == "needs_gpu"
    assert in_docker["problems"]["linear_cuda"]["score"] == {"cuda_untiled": 11,
                                                            "cuda_numpy_in_kernel": 9}[example]
