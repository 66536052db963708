"""Every pair of a class's submissions (``sources.Submission``), compared file by file on their
fingerprints.

Cost: one fingerprint per student file (tokenising and hashing, linear in the code's length),
then, for each of the N (N - 1) / 2 pairs and each student file, one intersection of two hash
sets (microseconds); only pairs that share a fingerprint go on to measure their overlap
(:func:`covered`), and only the pairs a TA is shown have their passages located.
Fingerprinting grows linearly with the class, pairing quadratically from a small constant
(``benchmarks/bench_similarity.py``).
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

import numpy as np
from copydetect.utils import find_fingerprint_overlap, get_copied_slices

from grader.similarity.fingerprints import drop_given, drop_hashes, every_hash, fingerprint


@dataclass(frozen=True)
class Region:
    """One passage found in both submissions: 1-based inclusive line ranges in ``file``."""
    file: str
    lines_a: tuple[int, int]
    lines_b: tuple[int, int]


@dataclass
class Pair:
    """Two submissions and how much of each one is found in the other."""
    a: str
    b: str
    similarity_a: float  # fraction of a's own (not shared) code found in b
    similarity_b: float
    matched: int  # characters of normalised code matched, the smaller of the two sides
    regions: list | None = None  # the passages, located for the pairs a TA is shown

    @property
    def score(self) -> float:
        """The larger of the two fractions: a short submission copied into a long one counts."""
        return max(self.similarity_a, self.similarity_b)


@dataclass(frozen=True)
class Settings:
    """How the class is compared (``grader.api.similarity`` explains each one)."""
    threshold: float = 0.6
    min_match: int = 100
    common_fraction: float = 0.2
    common_floor: int = 10

    def flags(self, pair: "Pair") -> bool:
        """Whether ``pair`` is worth a TA's look: enough of it, and enough code in all."""
        return pair.score >= self.threshold and pair.matched >= self.min_match

    def common_limit(self, students: int) -> float:
        """A passage in more submissions than this is treated as shared by everyone."""
        return max(self.common_floor, self.common_fraction * students)


def shared_hashes(shared: dict) -> dict:
    """Per student file name, every k-gram hash of what everyone was given (``shared`` maps a
    file name to its texts: ``sources.given_texts``)."""
    return {name: set().union(*(every_hash(t) for t in texts)) if texts else set()
            for name, texts in shared.items()}


def common_hashes(prints: dict, names: list, settings: Settings) -> dict:
    """Per file, the fingerprints whose k-gram is in more submissions than ``max(common_floor,
    common_fraction * N)``: idioms everyone writes (as MOSS's ``-m``), ignored like the
    skeleton. Presence is counted over every k-gram, not only the winnowed ones: which k-grams
    winnowing keeps depends on the code around them, so at the edge of a common passage a
    submission may keep one that the others have but dropped."""
    limit = settings.common_limit(len(names))
    common = {}
    for file in {f for per in prints.values() for f in per}:
        kept = set().union(*(prints[n][file].hashes for n in names if file in prints[n]))
        counts = Counter(h for n in names if file in prints[n]
                         for h in kept.intersection(prints[n][file].every.tolist()))
        common[file] = {h for h, c in counts.items() if c > limit}
    return common


def fingerprint_class(submissions: list, shared: dict, settings: Settings) -> dict:
    """``{key: {file: Fingerprint}}``, what everyone was given and the common passages left
    out."""
    given = shared_hashes(shared)
    prints = {s.key: {f: drop_given(fingerprint(text), given.get(f, set()))
                      for f, text in sorted(s.files.items())} for s in submissions}
    common = common_hashes(prints, [s.key for s in submissions], settings)
    for per in prints.values():
        for f, fp in per.items():
            drop_hashes(fp, common.get(f, set()))
    return prints


MAX_SHOWN = 500  # pairs with a page of their own, at most (beyond ``pages``): flagged ones


def compare_class(submissions: list, shared: dict, settings: Settings = Settings(), *,
                  pages: int = 50) -> list:
    """Every pair that shares any code, most similar first (``a``, ``b``: keys), with the
    passages located for the pairs that get a page (:func:`shown`). Submissions without files
    are left out."""
    prints = fingerprint_class([s for s in submissions if s.files], shared, settings)
    pairs = rank_pairs(prints)
    for i in shown(pairs, settings, pages):
        locate(pairs[i], prints)
    return pairs


def shown(pairs: list, settings: Settings, pages: int) -> list:
    """The ranks (0-based) of the pairs a TA gets a page for: the first ``pages``, and every
    flagged pair, up to ``max(pages, MAX_SHOWN)`` in all."""
    ranks = [i for i, p in enumerate(pairs) if i < pages or settings.flags(p)]
    return ranks[:max(pages, MAX_SHOWN)]


def locate(pair: "Pair", prints: dict) -> "Pair":
    """Fill in ``pair.regions``: the passages found in both, file by file."""
    fa, fb = prints[pair.a], prints[pair.b]
    pair.regions = [r for f in sorted(fa) if f in fb for r in _regions(f, fa[f], fb[f])]
    return pair


def rank_pairs(prints: dict) -> list:
    """Compare every pair of ``prints`` (``{key: {file: Fingerprint}}``); return the pairs
    that share code, most similar first."""
    pairs = []
    for a, b in itertools.combinations(sorted(prints), 2):
        pair = compare_pair(a, prints[a], b, prints[b])
        if pair is not None:
            pairs.append(pair)
    pairs.sort(key=lambda p: (-p.score, -p.matched, p.a, p.b))
    return pairs


def compare_pair(a: str, prints_a: dict, b: str, prints_b: dict) -> Pair | None:
    """The similarity of two submissions over the student files they both have; None when they
    share no fingerprint at all (the common case, decided by one set intersection per file)."""
    files = [f for f in prints_a if f in prints_b and prints_a[f].hashes & prints_b[f].hashes]
    if not files:
        return None
    overlap_a = overlap_b = 0.0
    coverage_a = sum(fp.token_coverage for fp in prints_a.values())
    coverage_b = sum(fp.token_coverage for fp in prints_b.values())
    for f in files:
        fa, fb = prints_a[f], prints_b[f]
        common = fa.hashes & fb.hashes
        overlap_a += covered(fa, common)
        overlap_b += covered(fb, common)
    return Pair(a, b, similarity_a=float(overlap_a / coverage_a) if coverage_a else 0.0,
                similarity_b=float(overlap_b / coverage_b) if coverage_b else 0.0,
                matched=int(round(min(overlap_a, overlap_b))))


def covered(fp, hashes: set) -> int:
    """How many characters of ``fp``'s normalised code the k-grams of ``hashes`` cover: the
    ``token_overlap`` of ``copydetect.compare_files`` (the union of the matched windows), in
    plain Python, which is several times faster on files this small (a test checks they agree).
    """
    total, end, k = 0, -1, fp.k
    for p in sorted(p for h in hashes for p in fp.hash_idx[h]):
        start = max(p, end)
        if p + k > start:
            total += p + k - start
            end = p + k
    return total


def _regions(file, fa, fb) -> list:
    """The passages of ``file`` found in both: one per pair of matched slices (runs of matched
    k-grams, one in each file) that belong together, each slice with the slice of the other
    file sharing most fingerprints with it. A passage spans only the part of each slice that
    its partner matches, so code moved elsewhere shows as passages of its own."""
    common = fa.hashes & fb.hashes
    if not common:
        return []
    idx_a, idx_b = find_fingerprint_overlap(common, common, fa.hash_idx, fb.hash_idx)
    cut_a, cut_b = get_copied_slices(idx_a, fa.k)[0], get_copied_slices(idx_b, fb.k)[0]
    where_a, where_b = _slices_of(fa, common, cut_a), _slices_of(fb, common, cut_b)
    spans: dict = {}  # (slice in a, slice in b) -> (positions in a, positions in b)
    for h in common:
        for i, pa in where_a[h]:
            for j, pb in where_b[h]:
                got = spans.setdefault((i, j), (set(), set()))
                got[0].add(pa)
                got[1].add(pb)
    weight = {ij: len(pos[0]) for ij, pos in spans.items()}
    best_a, best_b = {}, {}
    for (i, j), w in weight.items():
        if w > weight.get(best_a.get(i), -1):
            best_a[i] = (i, j)
        if w > weight.get(best_b.get(j), -1):
            best_b[j] = (i, j)
    chosen = set(best_a.values()) | set(best_b.values())
    regions = {Region(file, _line_span(fa, spans[ij][0]), _line_span(fb, spans[ij][1]))
               for ij in chosen}
    return sorted(regions, key=lambda r: (r.lines_a, r.lines_b))


def _slices_of(fp, common: set, cuts) -> dict:
    """For each common hash, the (slice number, position) of each of its occurrences."""
    hashes = [h for h in common for _ in fp.hash_idx[h]]
    positions = [p for h in common for p in fp.hash_idx[h]]
    slices = (np.searchsorted(cuts, positions, "right") - 1).tolist()
    where: dict = {h: [] for h in common}
    for h, i, p in zip(hashes, slices, positions):
        where[h].append((i, p))
    return where


def _line_span(fp, positions) -> tuple[int, int]:
    """The lines of ``fp.raw_code`` covered by the k-grams starting at ``positions`` of the
    filtered code, blank lines at either end left out."""
    raw = np.array([min(positions), max(positions) + fp.k])
    if len(fp.offsets) > 0:  # copydetect's own map from filtered back to raw positions
        raw = raw + fp.offsets[:, 1][np.clip(np.searchsorted(fp.offsets[:, 0], raw), 0,
                                             fp.offsets.shape[0] - 1)]
    lines, starts = fp.lines()
    lo = int(np.searchsorted(starts, raw[0], "right"))
    hi = max(lo, int(np.searchsorted(starts, max(int(raw[1]) - 1, int(raw[0])), "right")))
    while hi > lo and not lines[hi - 1].strip():
        hi -= 1
    while lo < hi and not lines[lo - 1].strip():
        lo += 1
    return lo, hi
