"""The Lille demo data: complete, linked, evaluated, and idempotent to load."""

import re

from sqlalchemy import func, select

from app.demo import load_demo
from app.models import Entry, Evaluation, Relation, Revision, Tag
from app.services.entries import get_entry
from tests import demo_data


def test_every_demo_entry_is_loaded_with_its_tags_and_relations(session):
    assert len(demo_data.entries()) >= 40
    for spec in demo_data.entries():
        entry = get_entry(spec["slug"])
        assert entry.name == spec["name"]
        assert sorted(t.slug for t in entry.tags) == sorted(spec.get("tags", []))
        assert sorted((r.type, r.target.slug) for r in entry.relations_out) == sorted(
            (r["type"], r["target"]) for r in spec.get("relations", []))
        if "lon" in spec:
            assert entry.lonlat == (spec["lon"], spec["lat"])
        else:
            assert entry.geom is None


def test_digital_commons_have_no_place_and_are_used_by_places(session):
    loomio = get_entry("loomio")
    assert loomio.kind == "commons" and loomio.geom is None
    users = {r.source.slug for r in loomio.relations_in if r.type == "uses"}
    assert "la-coroutine" in users
    hosted = {r.source.slug for r in get_entry("mutualab").relations_in
              if r.type == "hosted_by"}
    assert {"makerspace-lille-makers", "amap-mutualab"} <= hosted


def test_la_coroutine_has_a_published_sheet_on_the_six_keys(session):
    sheet = session.scalar(select(Evaluation).join(Entry).where(Entry.slug == "la-coroutine"))
    assert sheet.state == "published"
    spec = demo_data.demo()["evaluations"][0]
    assert [a.key_slug for a in sheet.answers] == ["governance", "financing", "contribution",
                                                   "sharing", "legal", "partners"]
    for answer in sheet.answers:
        assert answer.level == spec["answers"][answer.key_slug].get("level")
        assert answer.strengths == spec["answers"][answer.key_slug]["strengths"].strip()


def test_loading_twice_changes_nothing(session):
    def state():
        return (
            session.scalar(select(func.count()).select_from(Revision)),
            sorted(session.execute(select(Entry.slug, Entry.version, Entry.updated_at)).all()),
            session.scalar(select(func.count()).select_from(Relation)),
            session.scalar(select(func.count()).select_from(Tag)),
        )

    before = state()
    counts = load_demo()
    assert counts["entries unchanged"] == len(demo_data.entries())
    assert counts["entries created"] == counts["entries updated"] == 0
    assert counts["evaluations unchanged"] == 1
    assert state() == before


def test_a_changed_demo_file_updates_only_what_changed(session, tmp_path):
    text = demo_data.DEMO_PATH.read_text(encoding="utf-8")
    mres = get_entry("mres")
    version = mres.version
    changed, n = re.subn(r'(slug = "mres"\nkind = "\w+"\nname = "[^"]*)"',
                         r'\1 (renamed)"', text, count=1)
    assert n == 1
    path = tmp_path / "lille.toml"
    path.write_text(changed, encoding="utf-8")
    counts = load_demo(path)
    assert counts["entries updated"] == 1
    assert counts["entries unchanged"] == len(demo_data.entries()) - 1
    session.expire_all()
    assert get_entry("mres").name.endswith(" (renamed)")
    assert get_entry("mres").version == version + 1


def test_the_demo_load_never_undoes_an_editor(session, tmp_path):
    """An editor's change of a demo entry or sheet survives every later demo load, even
    one whose file changes the same field; the fields nobody touched follow the file."""
    from app.services.entries import save_entry
    from app.services.evaluations import save_evaluation
    from app.services.revisions import Author
    from app.services.users import create_user

    editor = Author(user=create_user("demo-editor@example.org", "a long enough password",
                                     "editor"))
    mres = get_entry("mres")
    save_entry(mres, {"summary": "Résumé réécrit par une éditrice.",
                      "tags": [t.slug for t in mres.tags] + ["garden"]},
               author=editor, expected_version=mres.version)
    sheet = session.scalar(select(Evaluation).join(Entry).where(Entry.slug == "la-coroutine"))
    save_evaluation(sheet.entry, sheet, {"title": sheet.title,
                                         "held_on": sheet.held_on.isoformat(),
                                         "answers": {"governance": {
        "strengths": "Ce que la réunion a écrit.", "limits": "", "stakes": ""}}},
        author=editor, expected_version=sheet.version)

    # A new demo file: MRES renamed and its summary changed, Mutualab's summary changed.
    text = demo_data.DEMO_PATH.read_text(encoding="utf-8")
    text, n = re.subn(r'(slug = "mres"\nkind = "\w+"\nname = "[^"]*)"', r'\1 (renamed)"',
                      text, count=1)
    assert n == 1
    mutualab = get_entry("mutualab")
    old_summary = mutualab.summary
    assert text.count(old_summary) == 1
    text = text.replace(old_summary, "Un nouveau résumé du fichier de démonstration.")
    mres_summary = next(e["summary"] for e in demo_data.entries() if e["slug"] == "mres")
    text = text.replace(mres_summary, "Le fichier de démonstration réécrit aussi ce résumé.")
    path = tmp_path / "lille.toml"
    path.write_text(text, encoding="utf-8")

    for run in range(2):  # `make run` loads the demo at every start
        counts = load_demo(path)
        session.expire_all()
        mres = get_entry("mres")
        assert mres.summary == "Résumé réécrit par une éditrice."
        assert "garden" in {t.slug for t in mres.tags}
        assert mres.name.endswith(" (renamed)")  # nobody had changed the name
        assert get_entry("mutualab").summary == "Un nouveau résumé du fichier de démonstration."
        sheet = session.scalar(select(Evaluation).join(Entry)
                               .where(Entry.slug == "la-coroutine"))
        governance = next(a for a in sheet.answers if a.key_slug == "governance")
        assert governance.strengths == "Ce que la réunion a écrit."
        assert counts["evaluations kept (edited here)"] == 1
        # The summary of mres, reported when the file changed it, not at every load after.
        assert counts["fields kept (edited here)"] == (1 if run == 0 else 0)
