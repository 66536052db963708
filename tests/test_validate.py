"""`grader validate`: the suite of every assignment catches its mutants; the checks can fail."""
import pytest

from grader.course.config import solutions_dir
from grader.errors import ConfigError
from grader.course.validate import validate
from tests.conftest import write_files

ASSIGNMENTS = sorted(p.parent.name for p in solutions_dir().glob("*/assignment.yaml"))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_validates(assignment):
    checks = validate(assignment)
    assert [c for c in checks if not c.ok] == []
    assert [c.what for c in checks[:2]] == ["every test file collects",
                                            "reference scores full marks"]


def mutant(solutions, name, text):
    write_files(solutions / "mini" / "mutants", {f"{name}.yaml": text})


def test_a_caught_mutant_and_a_surviving_one(mini_solutions, tmp_path):
    mutant(mini_solutions, "forgets_dout", """
        description: backward ignores d_out
        file: graph.py
        replace:
          - old: "return d_out * self.y, d_out * self.x"
            new: "return self.y, self.x"
        caught_by: [test_backward]
    """)
    mutant(mini_solutions, "harmless", """
        description: a change no test can see
        file: graph.py
        replace:
          - {old: "return 2 * x", new: "return x + x"}
        caught_by: [test_double]
    """)
    checks = {c.what: c for c in validate("mini", solutions=mini_solutions,
                                          release_dir=tmp_path / "none")}
    assert checks["mutant forgets_dout is caught"].ok
    assert "wrong_answer" in checks["mutant forgets_dout is caught"].detail
    assert not checks["mutant harmless is caught"].ok
    assert "passes test_double" in checks["mutant harmless is caught"].detail
    assert not checks["skeleton scores zero"].ok  # no release there: reported, not skipped


def test_a_mutant_whose_text_is_ambiguous_is_an_error(mini_solutions, tmp_path):
    mutant(mini_solutions, "ambiguous", """
        description: matches twice
        file: graph.py
        replace: [{old: "return", new: "return"}]
        caught_by: [test_backward]
    """)
    with pytest.raises(ConfigError, match="occurs 3 times"):
        validate("mini", solutions=mini_solutions, release_dir=tmp_path)


def test_a_mutant_naming_an_unknown_test_fails(mini_solutions, tmp_path):
    mutant(mini_solutions, "typo", """
        description: names a test that does not exist
        file: graph.py
        replace: [{old: "return 2 * x", new: "return 3 * x"}]
        caught_by: [test_dubble]
    """)
    checks = validate("mini", solutions=mini_solutions, release_dir=tmp_path)
    assert "no such test: test_dubble" in checks[-1].detail and not checks[-1].ok


def test_a_syntax_error_in_a_hidden_test_is_named_with_its_file_and_line(mini_solutions,
                                                                        tmp_path):
    hidden = mini_solutions / "mini" / "tests" / "hidden" / "test_hidden.py"
    lines = hidden.read_text().splitlines()
    lines[5] = "def broken(:"
    hidden.write_text("\n".join(lines) + "\n")
    checks = {c.what: c for c in validate("mini", solutions=mini_solutions,
                                          release_dir=tmp_path)}
    collects = checks["every test file collects"]
    assert not collects.ok
    assert collects.detail == "tests/hidden/test_hidden.py:6: SyntaxError: invalid syntax"
    reference = checks["reference scores full marks"]
    assert not reference.ok and "points sum" not in reference.detail  # not a points mismatch
    assert reference.detail.count("test_hidden.py:6") == 1


def test_a_test_file_that_cannot_be_imported_fails_validation(mini_solutions, tmp_path):
    write_files(mini_solutions / "mini" / "tests" / "public", {
        "test_more.py": "import no_such_module_here\n"})
    checks = validate("mini", solutions=mini_solutions, release_dir=tmp_path)
    assert not checks[0].ok and checks[0].what == "every test file collects"
    assert checks[0].detail == ("tests/public/test_more.py:1: ModuleNotFoundError: No module "
                                "named 'no_such_module_here'")


def test_a_points_mismatch_is_reported_once_per_problem(mini_solutions, tmp_path):
    config = mini_solutions / "mini" / "assignment.yaml"
    config.write_text(config.read_text().replace("points: 2}", "points: 5}")
                      .replace("points: 1}", "points: 3}"))
    checks = {c.what: c for c in validate("mini", solutions=mini_solutions,
                                          release_dir=tmp_path)}
    detail = checks["reference scores full marks"].detail
    assert detail.count("its tests' points sum to") == 2
    assert detail.count("problem 'mul'") == 1 and detail.count("problem 'double'") == 1
    from grader.api import grade
    results = grade(mini_solutions / "mini", assignment="mini", solutions=mini_solutions)
    assert results["output"].count("problem 'mul'") == 1
    assert all(t["output"] == "not run: the test suite is invalid (see above)"
               for t in results["tests"])
