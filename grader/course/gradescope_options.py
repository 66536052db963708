"""The ``gradescope:`` section of ``assignment.yaml``: Gradescope's own options, validated.

```yaml
gradescope:
  visibility: visible            # the results as a whole (Gradescope's top-level visibility)
  stdout_visibility: hidden      # whether students see run_autograder's output
  hidden_tests: after_due_date   # visibility of every test of the hidden suite
  problems:                      # per problem: the test number prefix, a visibility
    conv_forward: {number: "1", visibility: visible}
  leaderboard:                   # an entry per measured value of one test
    - {name: "Forward speed (x the reference)", test: test_forward_speed,
       value: speed_ratio, order: asc}
```

Every key is optional. Test numbers default to ``<problem's position>.<test's position in the
problem>`` ("2.3"); visibilities default to the tests' own (public visible, hidden
``after_due_date``). Errors name the file and the key.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.errors import ConfigError

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
STDOUT_VISIBILITIES = ("visible", "hidden")
ORDERS = ("asc", "desc")
NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)*$")
TEST_NAME = re.compile(r"^test_[A-Za-z0-9_]*$")
_KEYS = ("visibility", "stdout_visibility", "hidden_tests", "problems", "leaderboard")
_PROBLEM_KEYS = ("number", "visibility")
_LEADERBOARD_KEYS = ("name", "test", "value", "order")


@dataclass(frozen=True)
class LeaderboardEntry:
    name: str
    test: str  # a test function's name; its first measurement of ``value`` is shown
    value: str = "speed_ratio"  # a key of the test's measured values (extra_data)
    order: str = "asc"


@dataclass(frozen=True)
class GradescopeOptions:
    visibility: str = "visible"
    stdout_visibility: str = "hidden"
    hidden_tests: str | None = None
    numbers: tuple[tuple[str, str], ...] = ()  # (problem id, number)
    visibilities: tuple[tuple[str, str], ...] = ()  # (problem id, visibility)
    leaderboard: tuple[LeaderboardEntry, ...] = field(default_factory=tuple)

    def number(self, problem_id: str, position: int) -> str:
        """The problem's number: as configured, else its 1-based ``position``."""
        return dict(self.numbers).get(problem_id, str(position))

    def test_visibility(self, problem_id: str, hidden: bool, own: str) -> str:
        configured = dict(self.visibilities).get(problem_id)
        if configured:
            return configured
        if hidden and self.hidden_tests:
            return self.hidden_tests
        return own


def _choice(where: str, value, choices) -> str:
    if value not in choices:
        raise ConfigError(f"{where} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _mapping(where: str, value, keys) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping")
    for key in value:
        if key not in keys:
            raise ConfigError(f"{where}: unknown key `{key}` (known: {', '.join(keys)})")
    return value


def parse(path, raw, problem_ids) -> GradescopeOptions:
    """Validate the ``gradescope`` mapping of the config at ``path``."""
    data = _mapping(f"{path}: `gradescope`", raw, _KEYS)
    where = f"{path}: `gradescope"
    options = {}
    if "visibility" in data:
        options["visibility"] = _choice(f"{where}.visibility`", data["visibility"], VISIBILITIES)
    if "stdout_visibility" in data:
        options["stdout_visibility"] = _choice(f"{where}.stdout_visibility`",
                                               data["stdout_visibility"], STDOUT_VISIBILITIES)
    if "hidden_tests" in data:
        options["hidden_tests"] = _choice(f"{where}.hidden_tests`", data["hidden_tests"],
                                          VISIBILITIES)
    numbers, visibilities = [], []
    for pid, conf in _mapping(f"{where}.problems`", data.get("problems", {}), problem_ids).items():
        conf = _mapping(f"{where}.problems.{pid}`", conf, _PROBLEM_KEYS)
        if "number" in conf:
            number = str(conf["number"]) if isinstance(conf["number"], (int, str)) else ""
            if not NUMBER.match(number) or isinstance(conf["number"], bool):
                raise ConfigError(f"{where}.problems.{pid}.number` must look like 1 or 2.1, "
                                  f"got {conf['number']!r}")
            numbers.append((pid, number))
        if "visibility" in conf:
            visibilities.append((pid, _choice(f"{where}.problems.{pid}.visibility`",
                                              conf["visibility"], VISIBILITIES)))
    if len({n for _, n in numbers}) != len(numbers):
        raise ConfigError(f"{where}.problems`: two problems have the same number")
    entries = data.get("leaderboard", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{where}.leaderboard` must be a list")
    leaderboard = []
    for i, entry in enumerate(entries):
        at = f"{where}.leaderboard[{i}]`"
        entry = _mapping(at, entry, _LEADERBOARD_KEYS)
        for key in ("name", "test"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise ConfigError(f"{at} needs `{key}` (a string)")
        if not TEST_NAME.match(entry["test"]):
            raise ConfigError(f"{at}: `test` must name a test function (test_...), got "
                              f"{entry['test']!r}")
        value = entry.get("value", "speed_ratio")
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{at}: `value` must name a measured value, e.g. speed_ratio")
        leaderboard.append(LeaderboardEntry(entry["name"], entry["test"], value,
                                            _choice(f"{at}: `order`", entry.get("order", "asc"),
                                                    ORDERS)))
    return GradescopeOptions(numbers=tuple(numbers), visibilities=tuple(visibilities),
                             leaderboard=tuple(leaderboard), **options)
