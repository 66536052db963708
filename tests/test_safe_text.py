"""Student text reaches humans with its control characters made visible; results.json keeps it
exact. The submission here tries a screen clear, a fake "ALL TESTS PASSED", an OSC 8 hyperlink
and a right-to-left override, in what it prints and in what it raises."""
import json
import os
import shutil
import subprocess
import sys

from grader.course.config import REPO_ROOT

ESC = "\x1b"
EVIL_PRINT = "\\x1b[2J\\x1b[H\\x1b[32mALL TESTS PASSED\\x1b[0m\\rgrade 42/42"
EVIL_RAISE = "\\x1b]8;;https://evil.example/\\x07click here\\x1b]8;;\\x07 \\u202egnp.exe"

SUBMISSION = f'''
class MulNode:
    def forward(self, x, y):
        print("{EVIL_PRINT}")
        raise ValueError("{EVIL_RAISE}")

    def backward(self, d_out):
        raise ValueError("{EVIL_RAISE}")
'''


def test_visible_escapes_controls_and_keeps_lines():
    from grader.results.safe_text import visible, visible_html
    assert visible("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert visible("one\r\ntwo\tthree\rfour") == "one\ntwo\tthree\\x0dfour"
    assert visible("\u202eabc\u200b\x85") == "\\u202eabc\\u200b\\x85"
    assert visible("均方误差 ok ü") == "均方误差 ok ü"  # printable text is left alone
    assert visible_html('<b onclick="x">&\x07') == "&lt;b onclick=&quot;x&quot;&gt;&amp;\\x07"


def _has_raw_controls(text: str) -> bool:
    return any(c in text for c in (ESC, "\x07", "\r", "\u202e"))


def test_feedback_terminal_and_summary_show_student_text_visibly(tmp_path):
    subs = tmp_path / "subs"
    (subs / "mallory").mkdir(parents=True)
    (subs / "mallory" / "graph.py").write_text(SUBMISSION)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(subs), "--assignment",
                           "hw1_graph", "--out", str(out)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    feedback = next(out.rglob("feedback.txt")).read_text()
    assert not _has_raw_controls(feedback)
    assert "\\x1b[2J" in feedback and "\\u202e" in feedback  # shown, not swallowed
    assert not _has_raw_controls(proc.stdout + proc.stderr)
    assert not _has_raw_controls((out / "summary.txt").read_text())
    # results.json stays exact: the raw characters are there, JSON-escaped
    results = json.loads(next(out.rglob("results.json")).read_text())
    outputs = "".join(t["output"] for t in results["tests"])
    assert ESC + "[2J" in outputs and "\u202e" in outputs


def test_check_shows_student_text_visibly(tmp_path):
    folder = tmp_path / "hw1"
    shutil.copytree(REPO_ROOT / "assignments" / "hw1_graph", folder)
    (folder / "graph.py").write_text(SUBMISSION)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "grader", "check"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "\\x1b]8;;https://evil.example/" in proc.stdout
    assert not _has_raw_controls(proc.stdout + proc.stderr)
