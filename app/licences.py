"""The data licence, from one place: `ATLAS_DATA_LICENCE` reaches every document.

Our own data are under the configured licence (`DATA_LICENCE`, ODbL by default). Data
derived from an ODbL source (OpenStreetMap, or a source whose licence says ODbL) stay
ODbL, which is share-alike: exports decide that per entry (app.exports.meta). Every
other place that names a licence (the OpenAPI document, OGC collection links, the page
footer, sync pull reading a peer's licence) asks this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

ODBL = "ODbL-1.0"


@dataclass(frozen=True)
class Licence:
    id: str
    title: str
    url: str | None


# Licence ids we can name and link; anything else is given as written.
KNOWN = {licence.id: licence for licence in (
    Licence("ODbL-1.0", "Open Data Commons Open Database License 1.0",
            "https://opendatacommons.org/licenses/odbl/1-0/"),
    Licence("ODC-By-1.0", "Open Data Commons Attribution License 1.0",
            "https://opendatacommons.org/licenses/by/1-0/"),
    Licence("PDDL-1.0", "Open Data Commons Public Domain Dedication and License 1.0",
            "https://opendatacommons.org/licenses/pddl/1-0/"),
    Licence("etalab-2.0", "Licence Ouverte / Open Licence 2.0",
            "https://www.etalab.gouv.fr/licence-ouverte-open-licence"),
    Licence("CC-BY-4.0", "Creative Commons Attribution 4.0",
            "https://creativecommons.org/licenses/by/4.0/"),
    Licence("CC0-1.0", "Creative Commons Zero 1.0",
            "https://creativecommons.org/publicdomain/zero/1.0/"),
)}

# Words by which other documents name a known licence (lower case), most specific first.
_ALIASES = (
    ("open database licen", "ODbL-1.0"), ("odbl", "ODbL-1.0"),
    ("licence ouverte", "etalab-2.0"), ("open licence", "etalab-2.0"),
    ("etalab", "etalab-2.0"), ("pddl", "PDDL-1.0"), ("odc-by", "ODC-By-1.0"),
    ("cc0", "CC0-1.0"), ("cc-by", "CC-BY-4.0"), ("cc by", "CC-BY-4.0"),
)


def describe(licence_id: str) -> Licence:
    """The title and link of a licence id; an unknown id is its own title, without link."""
    return KNOWN.get(licence_id) or Licence(licence_id, licence_id, None)


def data_licence() -> str:
    """The licence of this instance's own data (`ATLAS_DATA_LICENCE`)."""
    return current_app.config.get("DATA_LICENCE") or ODBL


def identify(name: str | None) -> str | None:
    """The licence id another document names (an id, a title, a phrase), or the name itself."""
    if not name:
        return None
    text = str(name).strip()
    if text in KNOWN:
        return text
    lowered = text.lower()
    for licence in KNOWN.values():
        if lowered in (licence.id.lower(), licence.title.lower()):
            return licence.id
    for word, licence_id in _ALIASES:
        if word in lowered:
            return licence_id
    return text[:200]


def is_odbl(licence: str | None) -> bool:
    return identify(licence) == ODBL
