"""Communes of France: the official list loaded with its origin, and the INSEE code of
an address (postcode + name), reported rather than guessed when it is not one commune."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from app.communes.index import commune_index
from app.communes.package import EXTRACT, integrity_of
from app.models import Commune, CommuneLoad, Entry
from app.services.entries import get_entry, save_entry
from app.services.revisions import Author
from tests import demo_data
from tests.support.serving import serving

EDITOR = Author(label="test editor")
# The official codes (INSEE, COG) of the demo's communes and of a few others.
OFFICIAL = {"Lille": "59350", "Roubaix": "59512", "Tourcoing": "59599",
            "Villeneuve-d'Ascq": "59009", "Roncq": "59508", "Lambersart": "59328",
            "Haubourdin": "59286", "Lille-Hellemmes": "59350"}


def test_the_demo_loads_the_extract_with_its_origin_and_version(session):
    load = session.scalar(select(CommuneLoad).order_by(CommuneLoad.id.desc()))
    assert load.version == "6.0.0" and "@etalab/decoupage-administratif" in load.origin
    assert load.count == session.scalar(select(func.count()).select_from(Commune)) > 1500
    assert load.integrity == integrity_of(EXTRACT.read_bytes())


def test_every_demo_entry_with_an_address_has_its_official_insee_code(session):
    seen = set()
    for spec in demo_data.entries():
        if not (spec.get("postcode") or spec.get("city")):
            continue
        entry = get_entry(spec["slug"])
        assert entry.insee_code == OFFICIAL[spec["city"]], (spec["slug"], spec["city"])
        seen.add(spec["city"])
    assert {"Lille", "Roubaix", "Villeneuve-d'Ascq", "Lille-Hellemmes"} <= seen


@pytest.mark.parametrize(("postcode", "city", "code"), [
    ("59000", "Lille", "59350"),
    ("59044", "LILLE CEDEX", "59350"),          # a CEDEX code: the name, in the department
    ("59800", "lille", "59350"),
    ("59160", "Lomme", "59350"),                # an associated commune: Lille's code
    ("59260", "Lille-Hellemmes", "59350"),
    ("59100", "ROUBAIX", "59512"),
    ("59200", "Tourcoing", "59599"),
    ("59650", "Villeneuve d Ascq", "59009"),    # accents, case and hyphens do not count
    ("59491", "VILLENEUVE-D'ASCQ", "59009"),
    ("62500", "St-Omer", "62765"),              # St → Saint
    ("75011", "Paris 11e Arrondissement", "75056"),  # the arrondissement's commune
    ("75011", "PARIS 11", "75056"),
    (None, "Tourcoing", "59599"),               # a name unique in France
])
def test_postcode_and_name_give_the_official_code(session, postcode, city, code):
    match = commune_index().lookup(postcode, city)
    assert (match.status, match.code) == ("found", code)


def test_an_ambiguous_name_is_reported_with_its_candidates_never_guessed(session):
    match = commune_index().lookup(None, "Saint-Denis")
    assert match.status == "ambiguous" and match.code is None
    assert match.candidates == ("11339", "30247", "93066", "97411")
    assert "Saint-Denis (93066)" in match.reason and "Saint-Denis (97411)" in match.reason
    # Within the territory's departments, the name may be one commune again.
    assert commune_index().lookup(None, "Saint-Denis", ["93"]).code == "93066"


@pytest.mark.parametrize(("postcode", "city", "why"), [
    ("59000", "Roubaix", "no commune named 'Roubaix' has the postcode 59000"),
    ("5900", "Lille", "not five digits"),
    ("59999", "Nulle-Part", "no commune named 'Nulle-Part' in the department of 59999"),
])
def test_an_unknown_pair_is_reported(session, postcode, city, why):
    match = commune_index().lookup(postcode, city)
    assert match.status == "unknown" and match.code is None and why in match.reason


def test_a_write_fills_the_code_and_never_overrides_one_an_editor_typed(session):
    made = save_entry(None, {"kind": "initiative", "name": "Atelier vélo", "postcode": "59100",
                             "city": "Roubaix"}, author=EDITOR, expected_version=None).entry
    assert made.insee_code == "59512"
    # The address moves: the derived code follows it.
    save_entry(made, {"postcode": "59200", "city": "Tourcoing"}, author=EDITOR,
               expected_version=made.version)
    assert made.insee_code == "59599"
    # An editor types another code: the next change of address leaves it alone.
    save_entry(made, {"insee_code": "59508"}, author=EDITOR, expected_version=made.version)
    save_entry(made, {"postcode": "59000", "city": "Lille", "insee_code": "59508"},
               author=EDITOR, expected_version=made.version)
    assert made.insee_code == "59508"
    # An unknown pair leaves an empty code empty.
    other = save_entry(None, {"kind": "initiative", "name": "Ailleurs", "postcode": "59000",
                              "city": "Roubaix"}, author=EDITOR, expected_version=None).entry
    assert other.insee_code is None


def test_fill_gives_existing_entries_their_codes_and_reports_the_rest(app, session):
    for name, city in (("Sans code", "Roubaix"), ("Nom ambigu", "Saint-Denis")):
        entry = save_entry(None, {"kind": "initiative", "name": name, "city": city},
                           author=EDITOR, expected_version=None).entry
        session.execute(Entry.__table__.update().where(Entry.id == entry.id)
                        .values(insee_code=None))
    result = app.test_cli_runner().invoke(args=["communes", "fill"])
    assert result.exit_code == 0, result.output
    assert "INSEE codes filled: 1; left without: 1." in result.output
    assert "nom-ambigu: ambiguous: 'Saint-Denis' without a postcode may be" in result.output
    assert get_entry("sans-code").insee_code == "59512"


def _tarball(communes: list[dict], name: str = "@etalab/decoupage-administratif") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for path, data in (("package/package.json", {"name": name, "version": "6.0.0"}),
                           ("package/data/communes.json", communes)):
            raw = json.dumps(data).encode()
            info = tarfile.TarInfo(path)
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
    return out.getvalue()


@pytest.fixture
def registry():
    """A local npm registry serving one tarball (`served`)."""
    state = {"body": b""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(state["body"])))
            self.end_headers()
            self.wfile.write(state["body"])

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=serving(server), daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_port}/decoupage-administratif-6.0.0.tgz"
    server.shutdown()
    server.server_close()


def test_load_from_the_registry_checks_the_tarball_integrity(app, session, registry):
    state, url = registry
    communes = json.loads(EXTRACT.read_text())["communes"][:50]
    state["body"] = _tarball(communes)
    before = session.scalar(select(func.count()).select_from(CommuneLoad))
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["communes", "load", "--url", url, "--integrity",
                                  integrity_of(b"something else")])
    assert refused.exit_code != 0 and "nothing was loaded" in refused.output
    assert session.scalar(select(func.count()).select_from(CommuneLoad)) == before
    done = runner.invoke(args=["communes", "load", "--url", url, "--integrity",
                               integrity_of(state["body"])])
    assert done.exit_code == 0, done.output
    assert "Loaded 50 communes, version 6.0.0" in done.output
    assert session.scalar(select(func.count()).select_from(Commune)) == 50
    state["body"] = _tarball(communes, name="left-pad")
    wrong = runner.invoke(args=["communes", "load", "--url", url, "--integrity", "none"])
    assert wrong.exit_code != 0 and "not @etalab/decoupage-administratif" in wrong.output


def test_an_import_reports_an_ambiguous_commune_on_its_row_and_imports_it(session, tmp_path):
    from importers.csv_reader import read_csv
    from importers.mapping import load_csv_mapping
    from tests.support.importer import MAPPING, entries_of, items_of, run_import, write_csv

    rows = [["a-1", "Tiers-lieu", "Lieu ambigu", "1 rue X", "", "Saint-Denis", "50.63", "3.06",
             "", ""],
            ["a-2", "Tiers-lieu", "Lieu de Roubaix", "2 rue Y", "59100", "ROUBAIX", "50.69",
             "3.17", "", ""]]
    path = write_csv(tmp_path / "communes.csv", rows)
    mapping = load_csv_mapping(MAPPING)
    result = run_import(mapping, read_csv(path, mapping))
    imported = entries_of("csv:tiers-lieux-test")
    assert imported["a-1"].insee_code is None and imported["a-2"].insee_code == "59512"
    [warning] = [w for w in items_of(result.report, "warning") if w["field"] == "insee_code"]
    assert warning["row"] == 2 and "'Saint-Denis' without a postcode may be" in warning["reason"]
