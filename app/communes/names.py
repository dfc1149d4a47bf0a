"""Commune names and postcodes in a comparable form.

"Villeneuve-d'Ascq", "VILLENEUVE D ASCQ" and "Villeneuve d’Ascq" are one name; so are
"Lille" and "LILLE CEDEX", "Paris 15e Arrondissement" and "Paris", "St-André" and
"Saint-André". The arrondissement is dropped because the postcode then tells the commune.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})
_CEDEX = re.compile(r"\bcedex\b.*$")
_ORDINAL = re.compile(r"^\d{1,2}(e|eme|ieme|er|ere|nd|d)?$")
_ARRONDISSEMENT = {"arrondissement", "arrondissements", "arr", "arrt", "arrdt"}
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}


def ascii_lower(text: str) -> str:
    """Lower case without accents or ligatures."""
    text = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


@lru_cache(maxsize=65536)
def is_cedex(name: str) -> bool:
    return bool(_CEDEX.search(ascii_lower(name)))


@lru_cache(maxsize=65536)  # a file's rows name the same few communes
def name_key(name: str) -> str:
    """The comparable form of a commune name (accents, case, punctuation, CEDEX and
    arrondissement number left out; St/Ste written out)."""
    text = _CEDEX.sub("", ascii_lower(name))
    words = [_ABBREVIATIONS.get(w, w) for w in re.split(r"[^a-z0-9]+", text) if w]
    if len(words) > 1 and words[-1] in _ARRONDISSEMENT:
        words.pop()
    if len(words) > 1 and _ORDINAL.match(words[-1]):
        words.pop()
    return " ".join(words)


def clean_postcode(postcode: str | None) -> str | None:
    """Five digits ("59 000" → "59000"), else None."""
    digits = re.sub(r"\s", "", postcode or "")
    return digits if re.fullmatch(r"\d{5}", digits) else None


def departments_of(postcode: str) -> tuple[str, ...]:
    """The department codes a postcode may belong to (Corsica's 20xxx: 2A or 2B)."""
    if postcode.startswith(("97", "98")):
        return (postcode[:3],)
    if postcode.startswith("20"):
        return ("2A", "2B")
    return (postcode[:2],)
