"""grader similarity: copies found through renaming, reordering and new comments; independent
solutions, the skeleton and the handout not flagged; pages escaped and rendered in Chromium."""
import builtins
import csv
import io
import json
import keyword
import os
import random
import shutil
import subprocess
import sys
import tokenize
import zipfile
from pathlib import Path

import pytest

from grader import api, cli
from grader.course.config import REPO_ROOT, find_assignment
from grader.similarity import fingerprints
from grader.similarity.pairs import Settings, compare_class
from grader.similarity.summary import dashboard_link
from grader.similarity.sources import (Submission, given_texts, handout_code,
                                       keep_student_files)

DATA = REPO_ROOT / "tests" / "similarity_data"
EXAMPLES = REPO_ROOT / "examples" / "submissions"
THRESHOLD = Settings().threshold


def make_grades(root: Path, assignment: str, students: dict) -> Path:
    """A batch's output folder as ``grader batch`` leaves it: per student a record folder with
    ``results.json`` and the kept files (``students``: name -> submission folder or zip)."""
    spec = find_assignment(assignment)
    for name, submission in students.items():
        record = root / name
        keep_student_files(record, submission, spec)
        (record / "results.json").write_text(json.dumps({"assignment": assignment,
                                                         "student": name}))
    return root


def alternatives(assignment: str) -> dict:
    """Independently written correct solutions: the example, the reference, those of the
    test data (the disguised copy left out)."""
    found = {"example_correct": EXAMPLES / assignment / "correct",
             "reference": REPO_ROOT / "solutions" / assignment}
    folder = DATA / assignment
    if folder.is_dir():
        found.update({p.name: p for p in sorted(folder.iterdir())
                      if p.is_dir() and not p.name.startswith("disguised")})
    return found


def pair_names(summary) -> list:
    return [{f["a"], f["b"]} for f in summary["flagged"]]


def read_csv(path) -> list:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("assignment", ["hw1_graph", "hw3_conv"])
def test_a_disguised_copy_is_flagged_at_the_top_and_nothing_else(tmp_path, assignment):
    students = {**alternatives(assignment),
                "copier": DATA / assignment / "disguised_copy_of_correct",
                **{f"skeleton{i}": REPO_ROOT / "assignments" / assignment for i in range(3)}}
    summary = api.similarity(make_grades(tmp_path / "grades", assignment, students))
    assert pair_names(summary) == [{"example_correct", "copier"}]
    rows = read_csv(summary["csv"])
    assert {rows[0]["student_a"], rows[0]["student_b"]} == {"example_correct", "copier"}
    assert float(rows[0]["score"]) >= 0.8
    assert all(float(r["score"]) < THRESHOLD for r in rows[1:])
    # The independent solutions, the reference among them, are far below the copy.
    assert float(rows[1]["score"]) < float(rows[0]["score"]) - 0.3


@pytest.mark.parametrize("assignment", ["hw2_mlp", "hw4_autoencoder", "hw5_rnn"])
def test_independent_correct_solutions_are_not_flagged(tmp_path, assignment):
    """Each example ``correct/`` was written differently from the reference solution."""
    summary = api.similarity(make_grades(tmp_path / "g", assignment, alternatives(assignment)))
    assert summary["compared"] == 2
    assert summary["flagged"] == []
    assert all(float(r["score"]) < 0.3 for r in read_csv(summary["csv"]))


def test_the_skeleton_submitted_unchanged_by_many_is_not_flagged(tmp_path):
    skeleton = REPO_ROOT / "assignments" / "hw1_graph"
    students = {f"s{i:02d}": skeleton for i in range(25)}
    students["worker"] = EXAMPLES / "hw1_graph" / "correct"
    summary = api.similarity(make_grades(tmp_path / "g", "hw1_graph", students))
    assert summary["compared"] == 26
    assert summary["flagged"] == []
    assert summary["pairs_sharing_code"] == 0  # nothing of theirs left to compare


# --------------------------------------------------------------------------- what hides nothing


def _rename(text: str, seed: int) -> str:
    """Every identifier the student chose renamed (keywords, builtins, numpy kept)."""
    rng = random.Random(seed)
    names = {}
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        value = tok.string
        if tok.type == tokenize.NAME and not keyword.iskeyword(value) and \
                value not in dir(builtins) and value not in ("np", "self", "numpy"):
            value = names.setdefault(value, f"n{rng.randrange(10**9)}")
        out.append((tok.type, value))
    return tokenize.untokenize(out)


def _top_level_blocks(text: str) -> tuple[list, list]:
    head, blocks = [], []
    for line in text.split("\n"):
        if line.startswith(("def ", "class ")):
            blocks.append([])
        (blocks[-1] if blocks else head).append(line)
    return head, blocks


def _score(a: str, b: str, assignment="hw3_conv") -> float:
    spec = find_assignment(assignment)
    file = spec.files[0]
    pairs = compare_class([Submission("a", {file: a}), Submission("b", {file: b})],
                          given_texts(spec))
    return min(pairs[0].similarity_a, pairs[0].similarity_b) if pairs else 0.0


def test_renaming_every_identifier_changes_nothing():
    original = (EXAMPLES / "hw3_conv" / "correct" / "conv.py").read_text()
    renamed = _rename(original, seed=1)
    assert renamed != original
    assert _score(original, renamed) == 1.0


def test_comments_layout_and_docstrings_change_nothing():
    original = (EXAMPLES / "hw3_conv" / "correct" / "conv.py").read_text()
    lines = []
    for line in original.split("\n"):
        indent = len(line) - len(line.lstrip(" "))
        lines.append(" " * (indent // 2) + line.lstrip(" "))  # 2-space indentation
        if line.startswith("def "):
            lines.append('    """My own docstring, unlike anybody else\'s."""')
        lines.append("")
        lines.append(f"{' ' * (indent // 2)}# a comment of my own, number {len(lines)}")
    restyled = "\r\n".join(lines)  # and Windows line ends
    assert _score(original, restyled) == 1.0
    norm = fingerprints.normalised
    assert norm(fingerprints.normalise(original))[0] == norm(fingerprints.normalise(restyled))[0]


def test_reordering_functions_keeps_the_copy_above_the_threshold():
    original = (EXAMPLES / "hw3_conv" / "correct" / "conv.py").read_text()
    head, blocks = _top_level_blocks(original)
    reordered = "\n".join(head + [line for block in reversed(blocks) for line in block])
    assert reordered != original
    # Only the k-grams across a boundary between two functions are lost (and with them a
    # one-line function: _out_size): far above the threshold still.
    assert _score(original, reordered) >= 0.85


def test_the_handout_code_counts_as_given(tmp_path):
    """Two students whose only code is what the handout shows share nothing of their own; with
    a release without the handout, the same two would be found to share that code."""
    skeleton = (REPO_ROOT / "assignments" / "hw1_graph" / "graph.py").read_text()
    readme = (REPO_ROOT / "assignments" / "hw1_graph" / "README.md").read_text()
    block = next(b for b in handout_code(readme) if "self.node1.forward(b, c)" in b)
    body = "\n".join("        " + line.split("#")[0].rstrip() for line in block.split("\n"))
    answer = skeleton.replace('''"""Return ``3 * (a + b * c)``, computed through node1, node2 and node3."""
        # YOUR CODE HERE
        raise NotImplementedError()''', f'"""..."""\n{body}\n        return out', 1)
    assert answer != skeleton
    students = [Submission("a", {"graph.py": answer}), Submission("b", {"graph.py": answer})]
    spec = find_assignment("hw1_graph")
    assert compare_class(students, given_texts(spec)) == []
    bare = tmp_path / "release"
    bare.mkdir()
    shutil.copy(REPO_ROOT / "assignments" / "hw1_graph" / "graph.py", bare)
    assert compare_class(students, given_texts(spec, bare)) != []


def _generated_function(rng: random.Random, name: str, lines: int = 12) -> str:
    """A function no one else writes: random operators and constants (kept by the
    normalisation, unlike names)."""
    body = []
    for i in range(lines):
        op1, op2 = rng.choice("+-*/%"), rng.choice(["+", "-", "*", "//", "**", "<<"])
        body.append(f"    v{i} = (x {op1} {rng.randrange(2, 999)}) {op2} {rng.randrange(2, 999)}")
    return f"def {name}(x):\n" + "\n".join(body) + "\n    return v0\n"


def test_passages_common_to_much_of_the_class_are_ignored():
    """A passage in more than ``common_floor`` submissions is what everyone writes (MOSS's
    -m); a passage only two of them share still counts."""
    rng = random.Random(7)
    everyone = _generated_function(rng, "shared_by_all", lines=20)
    two = _generated_function(rng, "shared_by_two", lines=20)
    students = []
    for i in range(12):
        own = _generated_function(rng, f"mine{i}")
        students.append(Submission(f"s{i:02d}", {"graph.py": own + everyone
                                                 + (two if i < 2 else "")}))
    spec = find_assignment("hw1_graph")
    pairs = compare_class(students, given_texts(spec), Settings(common_floor=10))
    assert [(p.a, p.b) for p in pairs if Settings().flags(p)] == [("s00", "s01")]
    one_passage = pairs[0].matched  # the passage of the two, not the one of all twelve
    assert 250 < one_passage < 400
    assert all(p.matched <= 2 * fingerprints.NOISE for p in pairs[1:])  # a k-gram by chance
    # The same class with a floor above its size: everyone shares the common passage.
    pairs = compare_class(students, given_texts(spec), Settings(common_floor=20))
    assert len(pairs) == 12 * 11 // 2
    assert all(p.matched > 250 for p in pairs)


def test_a_passage_repeated_in_one_file_is_found_in_both_places():
    rng = random.Random(3)
    block = _generated_function(rng, "f", lines=15).split("\n", 1)[1]
    a = "def first(x):\n" + block + "\n\ndef second(x):\n" + block
    b = "def only(x):\n" + block
    spec = find_assignment("hw1_graph")
    pairs = compare_class([Submission("a", {"graph.py": a}), Submission("b", {"graph.py": b})],
                          given_texts(spec))
    starts_in_a = sorted(r.lines_a[0] for r in pairs[0].regions)
    assert len(starts_in_a) == 2 and starts_in_a[0] <= 3 and starts_in_a[1] >= 17


def test_the_overlap_is_copydetect_s():
    """``pairs.covered`` measures what ``copydetect.compare_files`` does, on every pair of a
    class whose pairs all share code (the hw5 examples are one solution with one bug each)."""
    from copydetect import compare_files

    from grader.similarity.pairs import covered, fingerprint_class
    spec = find_assignment("hw5_rnn")
    students = [Submission(p.name, {"rnn.py": (p / "rnn.py").read_text()})
                for p in sorted((EXAMPLES / "hw5_rnn").iterdir()) if p.is_dir()]
    prints = fingerprint_class(students, given_texts(spec), Settings())
    checked = 0
    for a in prints:
        for b in prints:
            fa, fb = prints[a]["rnn.py"], prints[b]["rnn.py"]
            if a < b and fa.hashes & fb.hashes:
                overlap_a, (_, sim_b), _ = compare_files(fa, fb)
                assert covered(fa, fa.hashes & fb.hashes) == overlap_a
                assert covered(fb, fa.hashes & fb.hashes) == round(sim_b * fb.token_coverage)
                checked += 1
    assert checked == len(students) * (len(students) - 1) // 2


def test_scores_do_not_depend_on_the_interpreter_s_hash_seed(tmp_path):
    """Python's hash() is salted per process; winnowing on it would change the scores."""
    grades = make_grades(tmp_path / "g", "hw1_graph", {
        **alternatives("hw1_graph"), "copier": DATA / "hw1_graph" / "disguised_copy_of_correct"})
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"report{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO_ROOT)}
        subprocess.run([sys.executable, "-m", "grader", "similarity", str(grades), "--out",
                        str(out)], check=True, env=env, capture_output=True)
        outputs.append((out / "similarity.csv").read_text())
    assert outputs[0] == outputs[1]


# --------------------------------------------------------------------------- reading and safety


def test_student_code_is_read_never_run(tmp_path):
    marker = tmp_path / "ran"
    payload = f"open({str(marker)!r}, 'w').write('x')\nimport os\nos.system('touch {marker}')\n"
    sub = tmp_path / "evil"
    sub.mkdir()
    (sub / "graph.py").write_text(payload + (EXAMPLES / "hw1_graph" / "correct" /
                                             "graph.py").read_text())
    grades = make_grades(tmp_path / "g", "hw1_graph", {
        "evil": sub, "other": EXAMPLES / "hw1_graph" / "correct"})
    summary = api.similarity(grades)
    assert summary["compared"] == 2 and summary["flagged"]
    assert not marker.exists()


def test_kept_files_come_through_the_archive_defences(tmp_path):
    """A zip is unpacked as grading unpacks it: one top folder flattened, an entry escaping
    with ``..`` refused (nothing kept); only the assignment's files are kept."""
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.write(EXAMPLES / "hw1_graph" / "correct" / "graph.py", "alice/graph.py")
        zf.writestr("alice/notes.txt", "not a student file")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("graph.py", "x = 1\n")
        zf.writestr("../../escaped.py", "y = 2\n")
    spec = find_assignment("hw1_graph")
    assert keep_student_files(tmp_path / "rec_good", good, spec) == ["graph.py"]
    assert sorted(p.name for p in (tmp_path / "rec_good" / "files").iterdir()) == ["graph.py"]
    assert keep_student_files(tmp_path / "rec_bad", bad, spec) == []
    assert list((tmp_path / "rec_bad" / "files").iterdir()) == []
    assert not list(tmp_path.rglob("escaped.py"))


NASTY_NAME = "=HYPERLINK(x)<b>"
NASTY_CODE = '''import numpy as np
# </span></div><script>document.title = "pwned"</script><img src=x onerror=alert(1)>


class MulNode:
    def forward(self, x, y):
        label = "</div><script>document.title='pwned'</script>\u202e evil"
        self.x, self.y = x, y
        return x * y
'''


def nasty_class(tmp_path) -> Path:
    """Two students sharing code, one with markup in their name and their code."""
    spec = find_assignment("hw1_graph")
    grades = tmp_path / "grades"
    sub = tmp_path / "nasty"
    sub.mkdir()
    code = NASTY_CODE + (EXAMPLES / "hw1_graph" / "correct" / "graph.py").read_text()
    (sub / "graph.py").write_text(code)
    for key, name, folder in [("nasty", NASTY_NAME, sub),
                              ("plain", "plain", EXAMPLES / "hw1_graph" / "correct")]:
        keep_student_files(grades / key, folder, spec)
        (grades / key / "results.json").write_text(json.dumps({"assignment": "hw1_graph",
                                                               "student": name}))
    return grades


def test_pages_escape_everything_a_student_wrote(tmp_path):
    summary = api.similarity(nasty_class(tmp_path))
    page = Path(summary["index"]).parent / summary["flagged"][0]["page"]
    for html_file in [page, Path(summary["index"])]:
        text = html_file.read_text()
        assert "<script" not in text and "<img" not in text and NASTY_NAME not in text
        assert "=HYPERLINK(x)&lt;b&gt;" in text
        assert "default-src 'none'" in text  # no script could run even if escaping failed
    text = page.read_text()
    assert "&lt;/div&gt;&lt;script&gt;" in text
    assert "\u202e" not in text and "\\u202e" in text  # the bidi override shown, not obeyed
    row = next(r for r in read_csv(summary["csv"]) if "nasty" in (r["key_a"], r["key_b"]))
    assert "'=HYPERLINK(x)<b>" in (row["student_a"], row["student_b"])  # not a formula


# --------------------------------------------------------------------------- Chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("GRADER_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "similarity"


@pytest.fixture
def needs_chromium():
    """Skip without Chromium, except where GRADER_REQUIRE_BROWSER is set (CI: fail loudly)."""
    if CHROMIUM is None:
        if os.environ.get("GRADER_REQUIRE_BROWSER"):
            pytest.fail("no Chromium (GRADER_REQUIRE_BROWSER is set)")
        pytest.skip("no Chromium (apt-get install chromium)")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True,
                          timeout=120)


def test_pair_page_renders_in_chromium_with_matches_highlighted(tmp_path, needs_chromium):
    """The screenshot is kept in test-artifacts/similarity/: look at it."""
    from matplotlib import image

    from grader.similarity.pages import _PALETTE
    students = {**alternatives("hw1_graph"),
                "copier": DATA / "hw1_graph" / "disguised_copy_of_correct"}
    summary = api.similarity(make_grades(tmp_path / "g", "hw1_graph", students))
    page = Path(summary["index"]).parent / summary["flagged"][0]["page"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "pair.png"
    shot.unlink(missing_ok=True)
    done = chromium(tmp_path, "--window-size=1400,1600", f"--screenshot={shot}", page.as_uri())
    assert shot.is_file(), done.stderr[-2000:]
    pixels = (image.imread(shot)[..., :3] * 255).round()
    for colour in _PALETTE[:3]:  # the first three passages' colours fill whole lines
        rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
        hits = ((abs(pixels - rgb) <= 2).all(axis=-1)).sum()
        assert hits > 5000, f"passage colour {colour} covers only {hits} pixels"


def test_student_markup_stays_text_in_chromium(tmp_path, needs_chromium):
    summary = api.similarity(nasty_class(tmp_path))
    page = Path(summary["index"]).parent / summary["flagged"][0]["page"]
    for url in (page.as_uri(), Path(summary["index"]).as_uri()):
        dom = chromium(tmp_path, "--dump-dom", url).stdout
        assert "<title>" in dom and "pwned" not in dom.split("</title>")[0]
        assert "<script" not in dom and "<img" not in dom
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert "&lt;script&gt;document.title" in dom  # shown as the text it is


# --------------------------------------------------------------------------- the verbs


def test_batch_keeps_each_student_s_files_and_ranks_pairs(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copytree(EXAMPLES / "hw1_graph" / "correct", subs / "alice")
    with zipfile.ZipFile(subs / "bob.zip", "w") as zf:
        zf.write(DATA / "hw1_graph" / "disguised_copy_of_correct" / "graph.py", "bob/graph.py")
    shutil.copytree(DATA / "hw1_graph" / "flat_index", subs / "carol")
    out = tmp_path / "grades"
    summary = api.batch(subs, assignment="hw1_graph", out=out, progress=False, similarity=True)
    assert summary["statuses"] == {"ok": 3}
    assert (out / "students" / "bob" / "files" / "graph.py").read_text() == \
        (DATA / "hw1_graph" / "disguised_copy_of_correct" / "graph.py").read_text()
    assert pair_names(summary["similarity"]) == [{"alice", "bob"}]
    assert (out / "similarity" / "index.html").is_file()
    assert dashboard_link(out)["href"] == "similarity/index.html"
    assert 'href="similarity/index.html"' in (out / "index.html").read_text()  # the dashboard
    # A re-run grades no one again and keeps the files; the verb alone reads them, and links
    # its report from the dashboard.
    shutil.rmtree(out / "similarity")
    api.batch(subs, assignment="hw1_graph", out=out, progress=False)
    assert (out / "students" / "carol" / "files" / "graph.py").is_file()
    assert 'href="similarity/index.html"' not in (out / "index.html").read_text()
    assert pair_names(api.similarity(out)) == [{"alice", "bob"}]
    assert 'href="similarity/index.html"' in (out / "index.html").read_text()


def test_the_submissions_folder_can_stand_in_for_kept_files(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copytree(EXAMPLES / "hw1_graph" / "correct", subs / "alice")
    shutil.copytree(DATA / "hw1_graph" / "disguised_copy_of_correct", subs / "bob")
    summary = api.similarity(tmp_path / "report_here", assignment="hw1_graph",
                             submissions=subs)
    assert pair_names(summary) == [{"alice", "bob"}]


def test_cli_prints_the_flagged_pairs_and_the_statement(tmp_path, capsys):
    grades = make_grades(tmp_path / "g", "hw1_graph", {
        "alice": EXAMPLES / "hw1_graph" / "correct",
        "bob": DATA / "hw1_graph" / "disguised_copy_of_correct"})
    assert cli.main(["similarity", str(grades)]) == 0
    out = capsys.readouterr().out
    assert "alice <-> bob" in out and "a reason to look, not a verdict" in out


def test_cli_errors_are_one_clear_line(tmp_path, capsys):
    assert cli.main(["similarity", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    old = tmp_path / "old_batch"
    (old / "alice").mkdir(parents=True)
    (old / "alice" / "results.json").write_text(json.dumps({"assignment": "hw1_graph"}))
    assert cli.main(["similarity", str(old)]) == 2
    assert "--submissions" in capsys.readouterr().err
    assert cli.main(["similarity", str(old), "--threshold", "60"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    mixed = tmp_path / "mixed"
    for name, assignment in [("a", "hw1_graph"), ("b", "hw3_conv")]:
        (mixed / name).mkdir(parents=True)
        (mixed / name / "results.json").write_text(json.dumps({"assignment": assignment}))
    assert cli.main(["similarity", str(mixed)]) == 2
    assert "--assignment" in capsys.readouterr().err


def test_api_defaults_are_the_settings_defaults():
    import inspect

    from grader.similarity import run
    api_params = inspect.signature(api.similarity).parameters
    run_params = inspect.signature(run.similarity).parameters
    for name in ("threshold", "min_match", "pages"):
        assert api_params[name].default == run_params[name].default
    for name in ("threshold", "min_match", "common_fraction", "common_floor"):
        assert run_params[name].default == getattr(Settings(), name)
