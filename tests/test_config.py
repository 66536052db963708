"""assignment.yaml validation: every error names the file, the key and the problem."""
import pytest

from grader.course.config import find_assignment, load_assignment
from grader.errors import ConfigError
from tests.conftest import write_files

GOOD = """
id: demo
title: Demo
files: [graph.py]
problems:
  - {id: one, title: One, points: 2}
"""


def make(tmp_path, text, files=("graph.py",)):
    folder = tmp_path / "demo"
    write_files(folder, {"assignment.yaml": text, **{f: "" for f in files}})
    return folder


def test_valid_config_loads_with_defaults(tmp_path):
    spec = load_assignment(make(tmp_path, GOOD))
    assert spec.id == "demo" and spec.modules == ["graph"] and spec.max_score == 2
    assert spec.limits.call_timeout == 10


@pytest.mark.parametrize("text, message", [
    (GOOD + "extra: 1\n", "unknown key `extra`"),
    (GOOD.replace("title: Demo", "title: 5"), "`title` must be a string"),
    (GOOD.replace("files: [graph.py]", "files: [graph.py, missing.py]"),
     "missing.py"),
    (GOOD + "  - {id: one, title: Again, points: 1}\n", "duplicate problem id 'one'"),
    (GOOD.replace("points: 2", "points: two"), "(one): `points` must be a number"),
    (GOOD.replace("points: 2", "points: 2, weight: 3"), "(one): unknown key `weight`"),
    (GOOD + "limits: {call_timeout: -1}\n", "`limits.call_timeout` must be positive"),
    (GOOD + "limits: {timeout: 3}\n", "unknown key `limits.timeout`"),
    (GOOD.replace("id: demo", "id: other"), "does not match its folder"),
    ("id: demo\ntitle: [unclosed\n", "not valid YAML"),
    ("- just a list\n", "expected a mapping"),
    (GOOD.replace("files: [graph.py]\n", ""), "missing required key `files`"),
])
def test_errors_name_file_key_and_problem(tmp_path, text, message):
    folder = make(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_assignment(folder)
    assert message in str(err.value)
    assert "assignment.yaml" in str(err.value) or "YAML" in str(err.value)


def test_unknown_assignment_lists_known_ones(tmp_path):
    make(tmp_path, GOOD)
    with pytest.raises(ConfigError, match="no assignment 'nope'.*known: demo"):
        find_assignment("nope", solutions=tmp_path)


@pytest.mark.parametrize("extra, message", [
    ("provided: [graph.py]\n", "`provided[0]` 'graph.py' is also a student file"),
    ("provided: [helpers.py]\n", "`provided[0]` 'helpers.py'"),
    ("provided: [../x.py]\n", "must be a Python file name"),
])
def test_provided_modules_are_checked(tmp_path, extra, message):
    folder = make(tmp_path, GOOD + extra)
    with pytest.raises(ConfigError) as err:
        load_assignment(folder)
    assert message in str(err.value)
