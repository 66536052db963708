"""Provided helper modules (`provided:` in assignment.yaml) are the course's, not the student's."""
import shutil

from grader.api import check, grade
from grader.course.config import REPO_ROOT, find_assignment

SPEC = find_assignment("hw4_autoencoder")


def test_a_tampered_provided_module_is_replaced_by_the_course_copy(tmp_path):
    """A submission that ships its own layers.py (SGD climbing instead of descending, dense
    layers that double their output) is graded with the course's layers.py."""
    assert SPEC.provided == ("layers.py",)
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(SPEC.root / "autoencoder.py", sub / "autoencoder.py")  # imports from layers
    text = (SPEC.root / "layers.py").read_text()
    tampered = text.replace("-= self.lr * grads[name]", "+= self.lr * grads[name]")
    tampered = tampered.replace("out = x @ W + b", "out = 2 * (x @ W + b)")
    assert tampered != text
    (sub / "layers.py").write_text(tampered)
    results = grade(sub, assignment="hw4_autoencoder")
    assert results["score"] == results["max_score"]


def test_a_submission_without_the_provided_module_still_imports(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(SPEC.root / "autoencoder.py", sub / "autoencoder.py")
    assert grade(sub, assignment="hw4_autoencoder")["score"] == SPEC.max_score


def test_check_uses_the_release_copy(tmp_path):
    folder = tmp_path / "hw4"
    shutil.copytree(REPO_ROOT / "assignments" / "hw4_autoencoder", folder)
    shutil.copy(SPEC.root / "autoencoder.py", folder / "autoencoder.py")
    results = check(folder)
    assert results["tests"] and results["score"] == results["max_score"]
