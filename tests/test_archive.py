"""extract_submission: folders and zips, including every malicious-archive trick we know."""

from __future__ import annotations

import os
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from grader import errors
from grader.intake.archive import SubmissionError, extract_submission

GRAPH = b"def f(x):\n    return 2 * x\n"


def write_zip(path: Path, entries, *, compression=zipfile.ZIP_DEFLATED) -> Path:
    """entries: (name or ZipInfo, bytes) pairs, written as given (duplicates included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name"
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return path


def special(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix
    info.external_attr = mode << 16
    return info


def raw_name(name: str) -> zipfile.ZipInfo:
    """A ZipInfo whose stored name is exactly ``name`` (ZipInfo() cuts at NUL)."""
    info = zipfile.ZipInfo("placeholder")
    info.filename = name
    return info


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.fixture
def sandbox(tmp_path):
    """A zip path and a dest folder, nested so that '../' lands somewhere we can watch."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    zpath = tmp_path / "submission.zip"
    dest = work / "dest"

    class Box:
        root, zip, out = tmp_path, zpath, dest

        def untouched_outside(self, extra=()):
            """Only the zip (and dest, if still there) exist under tmp_path."""
            outside = {p for p in tree(tmp_path) if not p.startswith("a/b/dest")}
            assert outside == {"a", "a/b", "submission.zip", *extra}, outside

    return Box()


def expect_error(box, entries, message, **caps):
    write_zip(box.zip, entries)
    with pytest.raises(SubmissionError) as info:
        extract_submission(box.zip, box.out, **caps)
    assert message in str(info.value), str(info.value)
    box.untouched_outside()
    assert not box.out.exists()  # created by the call, removed on failure
    return info.value


# --------------------------------------------------------------------------- good zips


def test_plain_zip(sandbox):
    write_zip(sandbox.zip, [("graph.py", GRAPH), ("helpers/util.py", b"X = 1\n"), ("notes/", b"")])
    out = extract_submission(sandbox.zip, sandbox.out)
    assert out == sandbox.out
    assert tree(out) == {"graph.py", "helpers", "helpers/util.py"}
    assert (out / "graph.py").read_bytes() == GRAPH
    assert (out / "helpers" / "util.py").read_bytes() == b"X = 1\n"
    sandbox.untouched_outside()


def test_single_top_folder_is_flattened_and_junk_skipped(sandbox):
    write_zip(sandbox.zip, [
        ("hw1_张三/", b""),
        ("hw1_张三/graph.py", GRAPH),
        ("hw1_张三/lib/extra.py", b"Y = 2\n"),
        ("hw1_张三/.DS_Store", b"\0\0"),
        ("hw1_张三/__pycache__/graph.cpython-311.pyc", b"\0"),
        ("__MACOSX/hw1_张三/._graph.py", b"\0"),
        (".DS_Store", b"\0"),
    ])
    out = extract_submission(sandbox.zip, sandbox.out)
    assert tree(out) == {"graph.py", "lib", "lib/extra.py"}
    assert (out / "graph.py").read_bytes() == GRAPH


@pytest.mark.parametrize("entries, expected", [
    ([("a/graph.py", GRAPH), ("b/util.py", b"")], {"a", "a/graph.py", "b", "b/util.py"}),
    ([("a/graph.py", GRAPH), ("top.py", b"")], {"a", "a/graph.py", "top.py"}),
])
def test_not_flattened_when_not_a_single_folder(sandbox, entries, expected):
    write_zip(sandbox.zip, entries)
    assert tree(extract_submission(sandbox.zip, sandbox.out)) == expected


def test_existing_empty_dest_is_used_and_left_empty_on_failure(sandbox):
    sandbox.out.mkdir()
    write_zip(sandbox.zip, [("graph.py", GRAPH), ("big.py", b"x" * 2000)])
    with pytest.raises(SubmissionError, match="'big.py' is larger than"):
        extract_submission(sandbox.zip, sandbox.out, max_file_bytes=1000)
    assert sandbox.out.is_dir() and list(sandbox.out.iterdir()) == []


def test_dest_must_be_empty(sandbox):
    sandbox.out.mkdir()
    (sandbox.out / "old.py").write_text("")
    write_zip(sandbox.zip, [("graph.py", GRAPH)])
    with pytest.raises(ValueError, match="must be empty"):
        extract_submission(sandbox.zip, sandbox.out)
    assert tree(sandbox.out) == {"old.py"}


# --------------------------------------------------------------------------- malicious zips


@pytest.mark.parametrize("name", ["../x.py", "a/../../x.py", "../../../x.py", "..\\x.py", "ok/..\\..\\x.py"])
def test_parent_components_escape(sandbox, name):
    err = expect_error(sandbox, [("graph.py", GRAPH), (name, b"pwned")], "escapes the submission folder")
    assert str(err) == f"submission.zip: entry '{name}' escapes the submission folder"


def test_absolute_paths(sandbox):
    target = sandbox.root / "abs_evil.py"
    expect_error(sandbox, [(str(target), b"pwned")], "has an absolute path")
    assert not target.exists()
    expect_error(sandbox, [("C:/Windows/evil.py", b"pwned")], "has an absolute path")
    expect_error(sandbox, [("C:\\evil.py", b"pwned")], "has an absolute path")


def test_symlink_entry(sandbox):
    outside = sandbox.root / "secret.txt"
    outside.write_text("secret")
    link = special("graph.py", stat.S_IFLNK | 0o777)
    write_zip(sandbox.zip, [(link, str(outside).encode()), ("ok.py", b"")])
    with pytest.raises(SubmissionError, match="entry 'graph.py' is a symbolic link"):
        extract_submission(sandbox.zip, sandbox.out)
    sandbox.untouched_outside(extra={"secret.txt"})
    assert outside.read_text() == "secret"
    assert not sandbox.out.exists()


def test_symlink_then_file_through_it(sandbox):
    # The classic two-step: a link "d" -> outside, then "d/evil.py" written through it.
    write_zip(sandbox.zip, [(special("d", stat.S_IFLNK | 0o777), str(sandbox.root).encode()),
                            ("d/evil.py", b"pwned")])
    with pytest.raises(SubmissionError, match="entry 'd' is a symbolic link"):
        extract_submission(sandbox.zip, sandbox.out)
    sandbox.untouched_outside()


@pytest.mark.parametrize("mode, what", [
    (stat.S_IFCHR | 0o666, "is a character device"),
    (stat.S_IFBLK | 0o660, "is a block device"),
    (stat.S_IFIFO | 0o644, "is a named pipe"),
    (stat.S_IFSOCK | 0o755, "is a socket"),
])
def test_device_and_special_files(sandbox, mode, what):
    expect_error(sandbox, [("graph.py", GRAPH), (special("dev.py", mode), b"")], f"entry 'dev.py' {what}")


def test_duplicate_names(sandbox):
    expect_error(sandbox, [("graph.py", GRAPH), ("graph.py", b"second")], "'graph.py' appears more than once")
    expect_error(sandbox, [("x/graph.py", GRAPH), ("x//./graph.py", b"second")], "appears more than once")


def test_file_and_folder_with_the_same_name(sandbox):
    expect_error(sandbox, [("lib", b"file"), ("lib/util.py", b"")], "'lib' is both a file and a folder")


@pytest.mark.parametrize("name, what", [
    ("gra\x00ph.py", "has a NUL byte in its name"),
    ("graph.py\x00.txt", "has a NUL byte in its name"),
    ("bad\nname.py", "has a control character (\\x0a) in its name"),
    ("\x1b[31mred.py", "has a control character (\\x1b) in its name"),
    ("tab\there.py", "has a control character (\\x09) in its name"),
    ("exe.\u202eyp.py", "has an invisible formatting character (\\u202e) in its name"),
])
def test_names_with_nul_or_control_characters(sandbox, name, what):
    expect_error(sandbox, [(raw_name(name), b"x")], what)


def test_too_many_entries(sandbox):
    entries = [(f"f{i}.py", b"") for i in range(6)]
    expect_error(sandbox, entries, "too many files (6, the limit is 5)", max_files=5)
    # Junk does not count against the limit, but cannot be used to flood the archive either.
    write_zip(sandbox.zip, [(f"__MACOSX/._f{i}.py", b"") for i in range(10)] + [("graph.py", GRAPH)])
    assert tree(extract_submission(sandbox.zip, sandbox.out, max_files=5)) == {"graph.py"}
    flood = [(f"d{i}/", b"") for i in range(200)] + [("graph.py", GRAPH)]
    write_zip(sandbox.zip, flood)
    with pytest.raises(SubmissionError, match="too many entries"):
        extract_submission(sandbox.zip, sandbox.root / "dest2", max_files=5)


def test_per_file_cap(sandbox):
    expect_error(sandbox, [("graph.py", GRAPH), ("big.py", b"#" * 2000)],
                 "submission.zip: 'big.py' is larger than 0.001 MB (the limit per file) when uncompressed",
                 max_file_bytes=1000)


def test_total_cap(sandbox):
    entries = [(f"f{i}.py", b"#" * 600) for i in range(3)]
    expect_error(sandbox, entries, "the files add up to more than 0.0015 MB", max_total_bytes=1500,
                 max_file_bytes=1000)


def test_zip_bomb_stopped_while_streaming(sandbox):
    # 64 MB of zeros, about 64 kB compressed: stopped at the 5 MB per-file cap.
    info = zipfile.ZipInfo("graph.py")
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(sandbox.zip, "w") as zf, zf.open(info, "w") as f:
        chunk = bytes(1 << 20)
        for _ in range(64):
            f.write(chunk)
    assert sandbox.zip.stat().st_size < 1_000_000
    with pytest.raises(SubmissionError, match="'graph.py' is larger than 5 MB"):
        extract_submission(sandbox.zip, sandbox.out)
    sandbox.untouched_outside()
    assert not sandbox.out.exists()


def _patch_sizes(path: Path, new_size: int) -> None:
    """Make every header (local and central) claim ``new_size`` uncompressed bytes."""
    data = bytearray(path.read_bytes())
    pos = 0
    while (pos := data.find(b"PK\x03\x04", pos)) >= 0:  # local header: size at +22
        struct.pack_into("<I", data, pos + 22, new_size)
        pos += 4
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:  # central directory: size at +24
        struct.pack_into("<I", data, pos + 24, new_size)
        pos += 4
    path.write_bytes(bytes(data))


def test_header_sizes_are_not_trusted(sandbox):
    # A bomb whose headers claim 100 bytes: the real data does not match and is refused.
    write_zip(sandbox.zip, [("graph.py", bytes(3_000_000))])
    _patch_sizes(sandbox.zip, 100)
    with pytest.raises(SubmissionError, match="entry 'graph.py' cannot be read|does not match its header"):
        extract_submission(sandbox.zip, sandbox.out)
    sandbox.untouched_outside()
    # Headers that claim more than the real data are refused too.
    write_zip(sandbox.zip, [("graph.py", GRAPH)], compression=zipfile.ZIP_STORED)
    _patch_sizes(sandbox.zip, 10)
    with pytest.raises(SubmissionError, match="graph.py"):
        extract_submission(sandbox.zip, sandbox.out)
    sandbox.untouched_outside()


def test_unreadable_archives(sandbox):
    sandbox.zip.write_bytes(b"this is not a zip file at all")
    with pytest.raises(SubmissionError, match="submission.zip: not a readable zip archive"):
        extract_submission(sandbox.zip, sandbox.out)
    write_zip(sandbox.zip, [("graph.py", GRAPH * 1000)])
    sandbox.zip.write_bytes(sandbox.zip.read_bytes()[:200])  # truncated
    with pytest.raises(SubmissionError, match="submission.zip: not a readable zip archive"):
        extract_submission(sandbox.zip, sandbox.out)
    with pytest.raises(SubmissionError, match="missing.zip: no such file or folder"):
        extract_submission(sandbox.root / "missing.zip", sandbox.out)
    (sandbox.root / "graph.txt").write_text("hello")
    with pytest.raises(SubmissionError, match="expected a folder or a .zip file"):
        extract_submission(sandbox.root / "graph.txt", sandbox.out)
    write_zip(sandbox.zip, [("__MACOSX/._x", b""), ("empty/", b"")])
    with pytest.raises(SubmissionError, match="the archive contains no files"):
        extract_submission(sandbox.zip, sandbox.out)
    assert not sandbox.out.exists()


def test_corrupt_entry_data(sandbox):
    write_zip(sandbox.zip, [("graph.py", GRAPH * 50)], compression=zipfile.ZIP_STORED)
    data = bytearray(sandbox.zip.read_bytes())
    data[40] ^= 0xFF  # inside graph.py's stored bytes: CRC mismatch
    sandbox.zip.write_bytes(bytes(data))
    with pytest.raises(SubmissionError, match="entry 'graph.py' cannot be read"):
        extract_submission(sandbox.zip, sandbox.out)
    assert not sandbox.out.exists()


def test_is_a_grader_submission_error():
    assert issubclass(SubmissionError, errors.SubmissionError)


# --------------------------------------------------------------------------- folders


def test_folder_copy_skips_links_junk_and_specials(tmp_path):
    src = tmp_path / "sub"
    (src / "lib").mkdir(parents=True)
    (src / "__pycache__").mkdir()
    (src / ".venv" / "bin").mkdir(parents=True)
    os.symlink("/usr/bin/python3", src / ".venv" / "bin" / "python")
    (src / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (src / "graph.py").write_bytes(GRAPH)
    (src / "lib" / "util.py").write_text("X = 1\n")
    (src / ".DS_Store").write_bytes(b"\0")
    (src / "__pycache__" / "graph.cpython-311.pyc").write_bytes(b"\0")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    os.symlink(secret, src / "stolen.txt")
    os.symlink(tmp_path, src / "up")
    os.mkfifo(src / "pipe")
    out = extract_submission(src, tmp_path / "dest")
    assert tree(out) == {"graph.py", "lib", "lib/util.py"}
    assert (out / "graph.py").read_bytes() == GRAPH
    assert not any(p.is_symlink() for p in out.rglob("*"))


def test_folder_caps(tmp_path):
    src = tmp_path / "sub"
    src.mkdir()
    for i in range(4):
        (src / f"f{i}.py").write_bytes(b"#" * 600)
    with pytest.raises(SubmissionError, match="sub: too many files"):
        extract_submission(src, tmp_path / "d1", max_files=3)
    with pytest.raises(SubmissionError, match="sub: 'f0.py' is larger than"):
        extract_submission(src, tmp_path / "d2", max_file_bytes=500)
    with pytest.raises(SubmissionError, match="add up to more than"):
        extract_submission(src, tmp_path / "d3", max_total_bytes=2000)
    assert tree(tmp_path) == {"sub", *(f"sub/f{i}.py" for i in range(4))}


def test_folder_with_dest_inside_it(tmp_path):
    src = tmp_path / "sub"
    src.mkdir()
    (src / "graph.py").write_bytes(GRAPH)
    out = extract_submission(src, src / ".work")
    assert tree(out) == {"graph.py"}


def test_empty_folder_and_odd_names(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionError, match="empty: the folder contains no files"):
        extract_submission(tmp_path / "empty", tmp_path / "d1")
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "bad\nname.py").write_text("")
    with pytest.raises(SubmissionError, match="control character"):
        extract_submission(odd, tmp_path / "d2")
    assert not (tmp_path / "d1").exists() and not (tmp_path / "d2").exists()
