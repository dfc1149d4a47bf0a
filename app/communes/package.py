"""The official list of communes: the npm package `@etalab/decoupage-administratif`.

Its code is MIT, its data (INSEE's Code officiel géographique, La Poste's postcodes)
under the Licence Ouverte / Etalab 2.0. `flask communes load` reads the pinned
version's tarball from the npm registry (its sha512 checked against the registry's
`dist.integrity`), or a file: the tarball, the package's `data/communes.json`, or an
extract in the form of data/communes/ (an object with origin, version and communes).
The table is replaced in one transaction, with a `commune_loads` row saying what was read.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

from ..config import PROJECT_ROOT
from ..extensions import db
from ..models import CommuneLoad

PACKAGE = "@etalab/decoupage-administratif"
VERSION = "6.0.0"
TARBALL_URL = ("https://registry.npmjs.org/@etalab/decoupage-administratif/-/"
               f"decoupage-administratif-{VERSION}.tgz")
# The registry's dist.integrity for VERSION (`npm view @etalab/decoupage-administratif
# dist.integrity`).
INTEGRITY = ("sha512-XavYsFlbcM/prKr8hNHPKER94IHw/dsxNM4nxjWMYk6PLFACpEedvn/7wK8Baozm0dCYh"
             "WWcf+7bcWpA5pmCaQ==")
KINDS = ("commune-actuelle", "arrondissement-municipal", "commune-deleguee",
         "commune-associee")
TIMEOUT = 60


class CommunesError(ValueError):
    """A list that cannot be loaded; the message names the file or address and why."""


@dataclass
class CommuneList:
    origin: str
    version: str
    integrity: str | None
    communes: list[dict[str, Any]]


def integrity_of(data: bytes) -> str:
    """npm's Subresource-Integrity form of `data`'s SHA-512."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def download(url: str = TARBALL_URL, integrity: str | None = INTEGRITY,
             timeout: float = TIMEOUT) -> CommuneList:
    """The tarball at `url`, checked against `integrity` (None: not checked)."""
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise CommunesError(f"{url}: could not be fetched ({exc})") from None
    got = integrity_of(response.content)
    if integrity and got != integrity:
        raise CommunesError(f"{url}: the file's checksum is {got}, not the expected "
                            f"{integrity}; nothing was loaded")
    return from_tarball(response.content, url, got)


def read_file(path: Path, version: str | None = None) -> CommuneList:
    """A tarball (.tgz), the package's communes.json, or an extract (data/communes/)."""
    data = path.read_bytes()
    if path.name.endswith((".tgz", ".tar.gz")):
        return from_tarball(data, path.name, integrity_of(data))
    try:
        parsed = json.loads(data)
    except ValueError as exc:
        raise CommunesError(f"{path}: not JSON ({exc})") from None
    if isinstance(parsed, dict):
        communes = parsed.get("communes")
        origin = parsed.get("origin") or path.name
        version = version or parsed.get("version")
    else:
        communes, origin = parsed, path.name
    if not isinstance(communes, list):
        raise CommunesError(f"{path}: expected a list of communes (the package's "
                            "data/communes.json) or an object with `communes`")
    return CommuneList(origin, version or "unknown", integrity_of(data), communes)


def from_tarball(data: bytes, origin: str, integrity: str | None) -> CommuneList:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            manifest = json.load(archive.extractfile("package/package.json"))
            communes = json.load(archive.extractfile("package/data/communes.json"))
    except (tarfile.TarError, KeyError, ValueError, AttributeError) as exc:
        raise CommunesError(f"{origin}: not the package's tarball ({exc})") from None
    if manifest.get("name") != PACKAGE:
        raise CommunesError(f"{origin}: the package is {manifest.get('name')!r}, "
                            f"not {PACKAGE}")
    return CommuneList(f"{PACKAGE}@{manifest.get('version')} ({origin})",
                       str(manifest.get("version")), integrity, communes)


def rows(communes: list[dict[str, Any]], origin: str) -> list[dict[str, Any]]:
    """The table's rows; a record without code, name, kind or department is refused."""
    out = []
    for number, record in enumerate(communes, start=1):
        try:
            code, name, kind = record["code"], record["nom"], record["type"]
            department = record["departement"]
        except (KeyError, TypeError):
            raise CommunesError(f"{origin}: commune #{number} lacks code, nom, type or "
                                f"departement: {str(record)[:120]}") from None
        if kind not in KINDS or len(str(code)) != 5:
            raise CommunesError(f"{origin}: commune #{number} ({code}): unknown type "
                                f"{kind!r} or a code that is not five characters")
        out.append({"code": code, "name": name, "kind": kind,
                    "parent_code": record.get("commune") or record.get("chefLieu"),
                    "department": department, "region": record.get("region"),
                    "postcodes": list(record.get("codesPostaux") or []),
                    "population": record.get("population")})
    return out


INSERT_SQL = text("""
INSERT INTO communes (code, name, kind, parent_code, department, region, postcodes,
                      population, load_id)
SELECT r.code, r.name, r.kind, r.parent_code, r.department, r.region, r.postcodes,
       r.population, :load_id
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
    code text, name text, kind text, parent_code text, department text, region text,
    postcodes text[], population int)
""")


def load(commune_list: CommuneList) -> CommuneLoad:
    """Replace the table's communes with `commune_list` (committed by the caller)."""
    from .index import forget_index

    table = rows(commune_list.communes, commune_list.origin)
    record = CommuneLoad(origin=commune_list.origin, version=commune_list.version,
                         integrity=commune_list.integrity, count=len(table))
    db.session.add(record)
    db.session.flush()
    db.session.execute(text("DELETE FROM communes"))
    db.session.execute(INSERT_SQL, {"rows": json.dumps(table), "load_id": record.id})
    forget_index()
    return record


EXTRACT = PROJECT_ROOT / "data" / "communes" / "communes-59-62-extract.json"


def ensure_loaded(path: Path = EXTRACT) -> CommuneLoad | None:
    """Load `path` (the Nord and Pas-de-Calais extract) when no list was ever loaded:
    the demo's INSEE codes, without the network. A loaded list is left as it is."""
    if db.session.query(CommuneLoad.id).first() is not None:
        return None
    return load(read_file(path))
