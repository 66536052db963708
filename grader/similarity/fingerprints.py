"""Fingerprints of code, MOSS-style, built from ``copydetect``'s parts.

A file is tokenised by Pygments and normalised as ``copydetect.utils.filter_code`` does: every
identifier becomes ``V`` (functions ``F``, classes ``O``), every string ``S``, comments and
whitespace vanish; keywords, operators, numbers and builtins stay. Every ``k``-gram of that
text is hashed and the hashes are winnowed (``copydetect.utils.winnow``: Schleimer, Wilkerson
and Aiken 2003; any match of at least ``guarantee`` characters is found, none shorter than
``noise``). Renaming variables, changing comments or layout leaves the fingerprints as they
were, and reordering functions only breaks the few k-grams that straddle a function boundary.

Four things differ from ``copydetect.CodeFingerprint``, which is why it is not used whole:

* Docstrings vanish like comments (``filter_code`` makes each an ``S``): a student who deletes
  the skeleton's docstrings, or writes their own, would otherwise differ from the skeleton and
  from each other in k-grams that are really the same code. :func:`normalised` is
  ``filter_code`` with that change, in one pass of the lexer.
* k-grams are hashed with BLAKE2b, not Python's ``hash()``, which is salted per process: with a
  winnowing window the chosen fingerprints, so the scores, would change from run to run.
* What everyone was given is removed by :func:`drop_given`, not by ``boilerplate=``: that path
  (``np.intersect1d(..., assume_unique=True)`` on hashes that are not unique) also drops
  occurrences of any k-gram a file repeats, and keeps k-grams that straddle the end of a
  student's answer and the skeleton after it.
* Hashes common to much of the class are removed afterwards (:func:`drop_hashes`).

The result has the attributes ``copydetect.compare_files`` reads; ``pairs`` measures the overlap
the same way, faster.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from copydetect.utils import get_token_coverage, winnow
from pygments import token
from pygments.lexers import PythonLexer

#: Shortest run of normalised code (characters of the filtered text) that can match: shorter
#: runs are idioms (``self.V=Vself.V=V`` is "store both inputs"). Calibrated on the solutions
#: of tests/test_similarity.py (disguised copy / most similar independent pair): at 20, hw3
#: 0.98 / 0.35; at 30, hw1 0.89 / 0.48 and hw3 0.90 / 0.19; at 35 hw1's copy falls to 0.71,
#: its one-line methods shorter than a k-gram.
NOISE = 30
#: Every common run at least this long is found (winnowing window = GUARANTEE - NOISE + 1).
GUARANTEE = 35


@dataclass
class Fingerprint:
    """One file's winnowed fingerprints, with the attributes ``copydetect.compare_files``
    reads."""
    raw_code: str        # the file's text, normalise()d
    filtered_code: str   # the normalised text the k-grams are taken from
    offsets: np.ndarray  # copydetect's map from filtered positions back to raw ones
    k: int
    every: np.ndarray    # the hash of every k-gram of filtered_code, in order
    hash_idx: dict       # the winnowed ones: hash -> positions where its k-gram starts
    hashes: set = None
    token_coverage: float = 0.0

    def __post_init__(self):
        self.keep(self.hash_idx)

    def lines(self) -> tuple[list, np.ndarray]:
        """The lines of ``raw_code`` and the position where each starts (computed once)."""
        if not hasattr(self, "_lines"):
            lines = self.raw_code.split("\n")
            self._lines = lines, np.cumsum([0] + [len(line) + 1 for line in lines])
        return self._lines

    def keep(self, hash_idx: dict) -> None:
        """Replace the fingerprints (and what the similarity is measured against)."""
        self.hash_idx = hash_idx
        self.hashes = set(hash_idx)
        self.token_coverage = get_token_coverage(hash_idx, self.k, len(self.filtered_code))


def kgram_hashes(text: str, k: int) -> np.ndarray:
    """A stable 63-bit hash of every ``k``-character substring of ``text``, in order."""
    grams = (text[i:i + k].encode("utf-8", "surrogatepass") for i in range(len(text) - k + 1))
    return np.fromiter((int.from_bytes(hashlib.blake2b(g, digest_size=8).digest(), "little")
                        >> 1 for g in grams), dtype=np.int64)


def normalise(text: str) -> str:
    """``text`` as Pygments will see it, with its lines where they were: no byte-order mark,
    ``\\n`` line ends, and no leading newline (Pygments strips those, which would shift every
    position; a ``#`` before it keeps line 1 an empty comment)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return "#" + text if text.startswith("\n") else text


def fingerprint(text: str, *, noise: int = NOISE, guarantee: int = GUARANTEE) -> Fingerprint:
    """The fingerprint of one Python file's ``text`` (positions refer to ``normalise(text)``)."""
    raw = normalise(text)
    filtered, offsets = normalised(raw)
    every = kgram_hashes(filtered, noise)
    if len(every) == 0:
        return Fingerprint(raw, filtered, offsets, noise, every, {})
    hashes, idx = winnow(every, guarantee - noise + 1, remove_duplicates=False)
    hash_idx: dict = {}
    for h, i in zip(hashes.tolist(), idx.tolist()):
        hash_idx.setdefault(h, []).append(i)
    return Fingerprint(raw, filtered, offsets, noise, every, hash_idx)


def every_hash(text: str, *, noise: int = NOISE) -> set:
    """Every k-gram hash of ``text`` (no winnowing): what a file everyone has contributes."""
    return set(kgram_hashes(normalised(normalise(text))[0], noise).tolist())


_LEXER = PythonLexer(stripnl=False, ensurenl=False)
_KINDS: dict = {}  # token type -> what it becomes (Pygments' `in` on token types is slow)


def _kind(tokentype) -> str:
    if tokentype not in _KINDS:
        if tokentype in (token.Name, token.Name.Variable, token.Name.Attribute):
            _KINDS[tokentype] = "V"
        elif tokentype in token.Name.Decorator:  # also ``a @b``: the lexer cannot tell
            _KINDS[tokentype] = "@"
        elif tokentype in token.Name.Function:
            _KINDS[tokentype] = "F"
        elif tokentype in token.Name.Class:
            _KINDS[tokentype] = "O"
        elif tokentype in token.String.Doc or tokentype in token.Text or \
                tokentype in token.Comment:
            _KINDS[tokentype] = ""  # dropped
        elif tokentype in token.String.Affix:
            _KINDS[tokentype] = "affix"
        elif tokentype in token.String:
            _KINDS[tokentype] = "S"
        else:
            _KINDS[tokentype] = "keep"
    return _KINDS[tokentype]


def normalised(text: str) -> tuple[str, np.ndarray]:
    """``copydetect.utils.filter_code(text)`` for Python, docstrings dropped like comments.

    Returns the normalised text and copydetect's offsets: rows ``(i, n)``, ``n`` characters of
    ``text`` dropped or shortened before position ``i`` of the normalised text.
    """
    out: list = []
    length = 0
    removed = 0
    offsets = [[0, 0]]
    tokens = list(_LEXER.get_tokens_unprocessed(text))
    for n, (_, tokentype, value) in enumerate(tokens):
        kind = _kind(tokentype)
        if kind == "affix":  # r"..." or f"...": part of the string; before a docstring, dropped
            following = tokens[n + 1][1] if n + 1 < len(tokens) else None
            kind = "" if following is not None and _kind(following) == "" else "keep"
        if kind == "keep":
            out.append(value)
            length += len(value)
        elif kind == "@":
            out.append("@V")
            length += 2
            offsets.append([length - 1, removed])
            removed += len(value) - 2
        elif kind == "":
            offsets.append([length - 1, removed])
            removed += len(value)
        else:
            if kind == "S" and value in ("'", '"'):
                out.append('"')
                length += 1
                continue
            out.append(kind)
            length += 1
            offsets.append([length - 1, removed])
            removed += len(value) - 1
    return "".join(out), np.array(offsets)


def drop_hashes(fp: Fingerprint, shared: set) -> Fingerprint:
    """Remove the ``shared`` hashes (every occurrence) from ``fp``, in place; return it."""
    if fp.hashes & shared:
        fp.keep({h: idx for h, idx in fp.hash_idx.items() if h not in shared})
    return fp


def drop_given(fp: Fingerprint, given: set) -> Fingerprint:
    """Remove from ``fp``, in place, every k-gram that is mostly code the students were given.

    ``given`` holds every k-gram hash of the skeleton and the provided modules. A k-gram of the
    student's file whose characters are more than half covered by given k-grams goes too: the
    k-grams that straddle the end of a student's answer and the skeleton code after it would
    otherwise match in every pair of answers that end alike (``return V,V`` + the next class).
    """
    if not given or not fp.hash_idx:
        return fp
    k, doc = fp.k, fp.filtered_code
    starts = np.flatnonzero(np.isin(fp.every, np.fromiter(given, dtype=np.int64,
                                                          count=len(given))))
    edges = np.zeros(len(doc) + 1, dtype=np.int64)
    np.add.at(edges, starts, 1)
    np.add.at(edges, starts + k, -1)
    covered = np.concatenate([[0], np.cumsum(np.cumsum(edges)[:-1] > 0)])  # prefix sums
    kept = {}
    for h, idx in fp.hash_idx.items():
        own = [i for i in idx if covered[i + k] - covered[i] <= k // 2]
        if own:
            kept[h] = own
    fp.keep(kept)
    return fp
