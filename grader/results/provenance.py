"""What produced a result: every ``results.json`` carries it, and a batch compares it.

A result's *provenance* (``results["provenance"]``) names everything its score depends on
besides the grader's rules:

- ``submission_sha256``: the submission as graded (``intake.students.content_hash``: a zip's
  bytes, or a folder's files, names and bytes);
- ``assignment_digest``: the assignment as graded (``assignment_digest``: its folder, that is
  ``assignment.yaml``, the reference solution, the public and hidden tests, less mutants and
  caches; the Docker image's label holds the same digest per assignment);
- ``grader_version``: the grader package's version;
- ``backend`` (``local``, ``docker``) and ``sandbox_mode`` (``jail``, ``uid``, ``plain``: for
  docker the mode inside the container);
- ``image_digest``: docker, the image's id; ``None`` for local.

A stored result whose provenance differs from what a new run would use is *stale*
(``stale_reason``): a batch regrades it and says why.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from grader import __version__

FIELDS = ("submission_sha256", "assignment_digest", "grader_version", "backend",
          "sandbox_mode", "image_digest")


@dataclass(frozen=True)
class Provenance:
    submission_sha256: str | None  # None: the submission could not be read
    assignment_digest: str
    grader_version: str
    backend: str                   # "local" or "docker"
    sandbox_mode: str              # "jail", "uid" or "plain" (docker: inside the container)
    image_digest: str | None       # docker: the image's id; local: None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def assignment_digest(spec) -> str:
    """SHA-256 of an assignment as it grades (its folder, less mutants and caches): equal
    digests mean the same tests, references and ``assignment.yaml``. The one definition: the
    Docker image's label and every result's provenance hold it."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(spec.root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__"
                         and not (d == "mutants" and Path(root) == spec.root))
        for name in sorted(f for f in files if not f.endswith(".pyc")):
            path = Path(root, name)
            rel = path.relative_to(spec.root).as_posix().encode()
            data = path.read_bytes()
            h.update(len(rel).to_bytes(4, "little") + rel + len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def submission_digest(path) -> str | None:
    """``content_hash`` of a submission (batch's definition), or None when it cannot be read."""
    from grader.intake.students import content_hash
    try:
        return content_hash(Path(path))
    except OSError:
        return None


def local_mode() -> str:
    """The local backend's sandbox mode on this machine (``sandbox.local.default_mode``)."""
    from grader.sandbox.local import default_mode
    return default_mode()


@dataclass(frozen=True)
class ImageFacts:
    digest: str | None   # the image's id (``sha256:...``), None when the engine cannot tell
    mode: str            # the sandbox mode its containers grade in


def image_facts(image: str, docker_client=None) -> ImageFacts:
    """The Docker ``image``'s id and the sandbox mode its entry point uses (its
    ``GRADER_SANDBOX_MODE``, ``uid`` in the images ``grader image build`` makes). An engine
    that does not answer, or a missing image, gives ``ImageFacts(None, "uid")``: the grading
    itself reports that."""
    try:
        if docker_client is None:
            from grader.sandbox.docker import client
            docker_client = client()
        found = docker_client.images.get(image)
    except Exception:  # noqa: BLE001 (docker's errors, a missing engine: not ours to report)
        return ImageFacts(None, "uid")
    env = (found.attrs.get("Config") or {}).get("Env") or []
    mode = next((e.split("=", 1)[1] for e in env if e.startswith("GRADER_SANDBOX_MODE=")), "uid")
    return ImageFacts(found.id, mode)


def make(spec, *, submission_sha256: str | None, backend: str,
         image: ImageFacts | None = None, digest: str | None = None) -> Provenance:
    """The provenance of grading a submission (``submission_sha256``) of ``spec`` with
    ``backend`` (for docker, the ``image``'s facts) now, on this machine. ``digest``: the
    assignment's digest when the caller computed it already."""
    if backend == "docker":
        facts = image or ImageFacts(None, "uid")
        mode, image_digest = facts.mode, facts.digest
    else:
        mode, image_digest = local_mode(), None
    return Provenance(submission_sha256=submission_sha256,
                      assignment_digest=digest or assignment_digest(spec),
                      grader_version=__version__, backend=backend, sandbox_mode=mode,
                      image_digest=image_digest)


def stamp(results: dict, provenance: Provenance) -> dict:
    """``results`` with ``provenance`` (and the older top-level ``submission_sha256``)."""
    results["provenance"] = provenance.to_dict()
    results["submission_sha256"] = provenance.submission_sha256
    return results


# Why a stored result is stale, per field that differs (the first that differs is said).
REASONS = {
    "submission_sha256": "their submission changed since they were graded",
    "assignment_digest": "the assignment's tests, reference or assignment.yaml changed since "
                         "they were graded",
    "grader_version": "they were graded by another version of the grader",
    "backend": "they were graded with another backend",
    "sandbox_mode": "they were graded in another sandbox mode",
    "image_digest": "the Docker image changed since they were graded",
}
NO_PROVENANCE = "they were graded by a grader that did not record what produced the result"


def stale_reason(record: dict, expected: dict) -> str | None:
    """Why ``record`` (a stored results.json) is stale against ``expected`` (the provenance a
    run would stamp now; only its keys are compared), or None when it is current."""
    stored = record.get("provenance")
    if not isinstance(stored, dict):
        if record.get("submission_sha256") != expected.get("submission_sha256"):
            return REASONS["submission_sha256"]
        return NO_PROVENANCE
    for field in FIELDS:
        if field in expected and stored.get(field) != expected[field]:
            return REASONS[field]
    return None
