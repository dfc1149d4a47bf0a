"""Write data/communes/'s extract of the official list from the package's tarball.

    npm pack @etalab/decoupage-administratif@6.0.0
    python scripts/communes_extract.py etalab-decoupage-administratif-6.0.0.tgz

Keeps every record of the departments in DEPARTMENTS and of the codes in CODES (the
other communes the tests name), unchanged, in the package's order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.communes.package import PACKAGE, from_tarball, integrity_of  # noqa: E402

DEPARTMENTS = {"59", "62"}
# Four Saint-Denis (an ambiguous name without a postcode), Paris and one of its
# arrondissements (an object outside the Lille territory; arrondissement variants).
CODES = {"11339", "30247", "93066", "97411", "75056", "75111"}
OUT = ROOT / "data" / "communes" / "communes-59-62-extract.json"


def main(tarball: str) -> None:
    data = Path(tarball).read_bytes()
    package = from_tarball(data, Path(tarball).name, integrity_of(data))
    kept = [c for c in package.communes
            if c["departement"] in DEPARTMENTS or c["code"] in CODES]
    extract = {
        "origin": f"{PACKAGE}@{package.version}, data/communes.json: the departments "
                  f"{', '.join(sorted(DEPARTMENTS))} and the communes "
                  f"{', '.join(sorted(CODES))} (scripts/communes_extract.py)",
        "version": package.version,
        "package_integrity": package.integrity,
        "licence": "Licence Ouverte / Etalab 2.0 (data); MIT (package)",
        "communes": kept,
    }
    # One record a line: a later extract's diff shows what changed.
    head = json.dumps({k: v for k, v in extract.items() if k != "communes"},
                      ensure_ascii=False, indent=1)[:-2]
    lines = ",\n".join(json.dumps(c, ensure_ascii=False) for c in kept)
    OUT.write_text(f'{head},\n "communes": [\n{lines}\n]}}\n', encoding="utf-8")
    print(f"{OUT}: {len(kept)} records")


if __name__ == "__main__":
    main(sys.argv[1])
