"""Three-way merge of one text field: what two people changed from the same base, both
kept. Texts are compared word by word (after the prefix and suffix the three share), and
again character by character where both sides changed the same few words.

Regions that only one side changed take that side's text. Where both changed the same region
(`clash`), `merge3` keeps both: a side whose text contains the other's (every word, whole and
in order: it typed on from there) wins; else both texts are kept, the incoming one first. So
no word that either side typed is ever dropped; a deletion survives only where the other
side left the region alone. `merge3_strict` reports such clashes instead, for the save of a
whole form (the conflict screen shows both versions).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

# Regions both sides changed are merged again character by character up to this size when
# that merges cleanly (a word typed on from its first letters); else both are kept whole.
FINE_LIMIT = 400
WORDS = re.compile(r"\S+|\s+")


@dataclass(frozen=True)
class Merged:
    text: str
    clashes: int  # regions both sides changed differently (both kept)
    rewrites: int  # of which both replaced the same text (not only added at one place)


def _matches(base: list[str], other: list[str], fine: bool) -> dict[int, int]:
    out: dict[int, int] = {}
    # Characters repeat too often for difflib's junk heuristic; words, on long texts, are
    # what keeps it fast.
    matcher = SequenceMatcher(None, base, other, autojunk=not fine)
    for block in matcher.get_matching_blocks():
        for n in range(block.size):
            out[block.a + n] = block.b + n
    return out


def _contains(longer: str, shorter: str) -> bool:
    """Every word of `shorter`, whole and in order, in `longer` (it typed on from there)."""
    it = iter(longer.split())
    return all(word in it for word in shorter.split())


def _keeps_words(merged: str, base: str, *sides: str) -> bool:
    """Every word a side added to `base`, and every word all sides kept, is whole in `merged`
    (letters merged one by one could cut a word in two)."""
    have, before = Counter(merged.split()), Counter(base.split())
    words = [Counter(side.split()) for side in sides]
    needed = Counter()  # what a side added, and what every side kept
    for counted in words:
        needed |= counted - before
    kept = words[0]
    for counted in words[1:]:
        kept &= counted
    return not ((needed | kept) - have)


def _both(mine: str, theirs: str) -> str:
    if _contains(mine, theirs):
        return mine
    if _contains(theirs, mine):
        return theirs
    sep = "" if not mine or not theirs or mine[-1].isspace() or theirs[0].isspace() else " "
    return mine + sep + theirs


def _common_ends(base: str, theirs: str, mine: str, fine: bool) -> tuple[int, int]:
    """The lengths of the prefix and of the suffix the three texts share (whole words
    unless `fine`)."""
    shortest = min(len(base), len(theirs), len(mine))
    head = 0
    while head < shortest and base[head] == theirs[head] == mine[head]:
        head += 1
    tail = 0
    while tail < shortest - head and base[-1 - tail] == theirs[-1 - tail] == mine[-1 - tail]:
        tail += 1
    if not fine:
        while head and not base[head - 1].isspace():
            head -= 1
        while tail and not base[len(base) - tail].isspace():
            tail -= 1
    return head, tail


def _merge(base: str, theirs: str, mine: str, *, fine: bool = False) -> Merged:
    head, tail = _common_ends(base, theirs, mine, fine)
    end = len(base) - tail
    prefix, suffix = base[:head], base[end:]
    base, theirs, mine = base[head:end], theirs[head:len(theirs) - tail], \
        mine[head:len(mine) - tail]
    split = list if fine else WORDS.findall
    b, t, m = split(base), split(theirs), split(mine)
    to_t, to_m = _matches(b, t, fine), _matches(b, m, fine)
    out: list[str] = [prefix]
    clashes = rewrites = 0
    i = j = k = 0
    stable = [p for p in range(len(b)) if p in to_t and p in to_m] + [len(b)]
    for p in stable:
        end_t, end_m = (to_t[p], to_m[p]) if p < len(b) else (len(t), len(m))
        chunk_b, chunk_t, chunk_m = "".join(b[i:p]), "".join(t[j:end_t]), "".join(m[k:end_m])
        if chunk_t == chunk_b:
            out.append(chunk_m)
        elif chunk_m in (chunk_b, chunk_t):
            out.append(chunk_t)
        elif not fine and max(len(chunk_b), len(chunk_t), len(chunk_m)) <= FINE_LIMIT and \
                (inner := _merge(chunk_b, chunk_t, chunk_m, fine=True)).rewrites == 0 and \
                _keeps_words(inner.text, chunk_b, chunk_t, chunk_m):
            out.append(inner.text)  # e.g. a word typed on from its first letters
            clashes += inner.clashes
        else:
            if not (_contains(chunk_m, chunk_t) or _contains(chunk_t, chunk_m)):
                clashes += 1
                rewrites += bool(chunk_b)
            out.append(_both(chunk_m, chunk_t))
        if p < len(b):
            out.append(b[p])
        i, j, k = p + 1, end_t + 1, end_m + 1
    out.append(suffix)
    return Merged("".join(out), clashes, rewrites)


def merge3(base: str, theirs: str, mine: str) -> str:
    """`mine` (derived from `base`) applied onto `theirs` (also derived from `base`)."""
    if theirs in (base, mine):
        return mine
    if mine == base:
        return theirs
    return _merge(base, theirs, mine).text


def merge3_strict(base: str, theirs: str, mine: str) -> str | None:
    """The merge when no region was changed differently by both sides, else None."""
    if theirs in (base, mine):
        return mine
    if mine == base:
        return theirs
    merged = _merge(base, theirs, mine)
    return merged.text if merged.clashes == 0 else None
