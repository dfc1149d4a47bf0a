"""Three-way merge of one text field, character by character: what two people changed from
the same base, both kept.

Regions that only one side changed take that side's text. Where both changed the same region
(`clash`), `merge3` keeps both: a side whose text contains the other's (every character, in
order: it typed on from there) wins; else both texts are kept, the incoming one first. So no
character that either side typed is ever dropped; a deletion survives only where the other
side left the region alone. `merge3_strict` reports such clashes instead, for the save of a
whole form (the conflict screen shows both versions).
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

# Above this size (characters), regions are compared by line first: SequenceMatcher is
# quadratic at worst.
CHAR_LIMIT = 20_000


@dataclass(frozen=True)
class Merged:
    text: str
    clashes: int  # regions both sides changed differently


def _tokens(text: str, fine: bool) -> list[str]:
    return list(text) if fine else text.splitlines(keepends=True)


def _matches(base: list[str], other: list[str]) -> dict[int, int]:
    out: dict[int, int] = {}
    for block in SequenceMatcher(None, base, other, autojunk=False).get_matching_blocks():
        for n in range(block.size):
            out[block.a + n] = block.b + n
    return out


def _contains(longer: str, shorter: str) -> bool:
    """Every character of `shorter`, in order, in `longer`."""
    it = iter(longer)
    return all(ch in it for ch in shorter)


def _both(mine: str, theirs: str) -> str:
    if _contains(mine, theirs):
        return mine
    if _contains(theirs, mine):
        return theirs
    sep = "" if not mine or not theirs or mine[-1].isspace() or theirs[0].isspace() else " "
    return mine + sep + theirs


def _merge(base: str, theirs: str, mine: str) -> Merged:
    fine = max(len(base), len(theirs), len(mine)) <= CHAR_LIMIT
    b, t, m = _tokens(base, fine), _tokens(theirs, fine), _tokens(mine, fine)
    to_t, to_m = _matches(b, t), _matches(b, m)
    out: list[str] = []
    clashes = 0
    i = j = k = 0
    stable = [p for p in range(len(b)) if p in to_t and p in to_m] + [len(b)]
    for p in stable:
        if p < i:
            continue
        end_t, end_m = (to_t[p], to_m[p]) if p < len(b) else (len(t), len(m))
        chunk_b, chunk_t, chunk_m = "".join(b[i:p]), "".join(t[j:end_t]), "".join(m[k:end_m])
        if chunk_t == chunk_b:
            out.append(chunk_m)
        elif chunk_m in (chunk_b, chunk_t):
            out.append(chunk_t)
        else:
            if not (_contains(chunk_m, chunk_t) or _contains(chunk_t, chunk_m)):
                clashes += 1
            out.append(_both(chunk_m, chunk_t))
        if p < len(b):
            out.append(b[p])
        i, j, k = p + 1, end_t + 1, end_m + 1
    return Merged("".join(out), clashes)


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
