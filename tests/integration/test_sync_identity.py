"""Sheets travel and one identity across instances: real instances on loopback.

Lille holds the demo (stable ids); the hub starts empty, mirrors Lille both ways and
then loads the demo itself; `legacy` loaded the demo before its ids were stable (the
loader of then gave random ids: simulated by replacing the id functions during its
load, then recording the aliases as migration 0017 does). Servers are made once for
the module; each test leaves the instances as the next expects (they run in order).
"""

from __future__ import annotations

import uuid

import pytest

import app.demo
from app.extensions import db
from app.models import Entry, Evaluation
from app.services.evaluations import save_evaluation
from app.services.tokens import create_token
from app.services.users import create_user
from tests import demo_data
from tests.conftest import make_app
from tests.support.sync import EDITOR, Instance

DEMO_SHEET = ("la-coroutine", "Assemblée des communs du 26 mai 2016")


@pytest.fixture(scope="module")
def lille(databases):
    instance = Instance(databases, "id_lille", demo=True)
    # One more published sheet, and a draft that must never leave Lille.
    instance.new_sheet = write_sheet(instance, "dokuwiki", title="Revue de DokuWiki",
                                     held_on="2024-03-01", state="published",
                                     answers={"governance": {"level": 2,
                                                             "strengths": "Une fondation."}})
    instance.draft = write_sheet(instance, "mutualab", title="Brouillon de Mutualab",
                                 held_on="2024-04-01", state="draft",
                                 answers={"sharing": {"limits": "Pas encore relu."}})
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def hub(databases):
    instance = Instance(databases, "id_hub").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def legacy(databases):
    """An instance that loaded the demo with random ids (before they were stable): a copy
    of a template built once (_load_demo_with_random_ids), not a demo load per run."""
    instance = Instance(databases, "id_legacy", built_by=_load_demo_with_random_ids).start()
    yield instance
    instance.stop()


def _load_demo_with_random_ids(url: str) -> None:
    from flask_migrate import upgrade

    with make_app(url).app_context():
        upgrade()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(app.demo, "stable_entry_id", lambda slug: uuid.uuid4(),
                          raising=False)
            patch.setattr(app.demo, "stable_sheet_id", lambda *key: uuid.uuid4(),
                          raising=False)
            patch.setattr(app.demo, "record_demo_aliases", lambda data=None: 0,
                          raising=False)
            app.demo.load_demo()
        db.session.remove()
        if hasattr(app.demo, "record_demo_aliases"):
            app.demo.record_demo_aliases()  # what migration 0017 does for such a base
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


def write_sheet(instance: Instance, slug: str, sheet_id: str | None = None,
                **data) -> str:
    """Create or change a sheet as an editor of `instance` would."""
    with instance.context():
        entry = db.session.scalar(db.select(Entry).where(Entry.slug == slug))
        sheet = db.session.get(Evaluation, uuid.UUID(sheet_id)) if sheet_id else None
        if sheet is not None:
            current = {"title": sheet.title, "held_on": sheet.held_on.isoformat(),
                       "authors": sheet.authors, "state": sheet.state,
                       "answers": {a.key_slug: {n: getattr(a, n) for n in
                                                ("level", "strengths", "limits", "stakes")}
                                   for a in sheet.answers}}
            answers = current["answers"]
            for key, parts in data.pop("answers", {}).items():
                answers[key] = {**answers.get(key, {}), **parts}
            data = {**current, **data, "answers": answers}
        result = save_evaluation(entry, sheet, data, author=EDITOR,
                                 expected_version=sheet.version if sheet else None)
        return str(result.evaluation.id)


def demo_sheet_id(instance: Instance) -> str:
    slug, title = DEMO_SHEET
    return instance.sql("SELECT s.id::text FROM evaluations s JOIN entries e "
                        "ON e.id = s.entry_id WHERE e.slug = :slug AND s.title = :title",
                        slug=slug, title=title)[0][0]


def pull(into: Instance, source: Instance, name: str):
    result = into.cli("sync", "pull", "--from", source.url, "--name", name, "--backoff", "0")
    assert result.exit_code == 0, result.output
    return result.output


def push(source: Instance, into: Instance, as_name: str):
    with into.context():
        if not hasattr(into, "token"):
            user = create_user(f"sync@{into.port}.example", "a long enough password",
                               "editor")
            into.token, _ = create_token(user, "push")
    result = source.cli("sync", "push", "--to", into.url, "--token", into.token, "--as",
                        as_name, "--backoff", "0")
    assert result.exit_code == 0, result.output
    return result.output


def counts(output: str, prefix: str = "created:") -> dict[str, int]:
    line = next(line for line in output.splitlines() if line.startswith(prefix))
    line = line.removeprefix("sheets — ")
    return {k.strip(): int(v) for k, v in (part.split(":") for part in line.split(","))}


def entries_count(instance: Instance) -> int:
    return instance.sql("SELECT count(*) FROM entries WHERE deleted_at IS NULL")[0][0]


def no_entry_twice(instance: Instance) -> None:
    names = instance.sql("SELECT name, count(*) FROM entries WHERE deleted_at IS NULL "
                         "GROUP BY name HAVING count(*) > 1")
    assert names == []


def test_an_instance_that_loaded_the_demo_before_pulls_it_without_duplicates(lille, legacy):
    """The bug: a second instance with the demo, pulling from the first, duplicated every
    demo place (the ids differed and nothing looked for twins). Now the demo's stable ids
    (aliases on a base loaded before) and the twin rule link them instead."""
    total = len(demo_data.entries())
    # The same café entered on both sides by hand: the same website, a different name.
    lille.create({"kind": "initiative", "name": "Café commun de Fives",
                  "website": "https://cafe-commun.example"})
    legacy.create({"kind": "initiative", "name": "Le café commun",
                   "website": "http://www.cafe-commun.example/"})
    assert entries_count(legacy) == total + 1

    output = pull(legacy, lille, "lille")
    assert entries_count(legacy) == total + 1, output  # nothing created twice
    no_entry_twice(legacy)
    assert "same website as 'Le café commun'" in output
    # Lille's published sheets are there, the demo's one linked to the local twin, the
    # draft absent.
    sheets = legacy.sheets()
    assert len(sheets) == 2
    assert lille.new_sheet in sheets and lille.draft not in sheets
    assert legacy.sql("SELECT count(*) FROM evaluations")[0][0] == 2

    # The other way: Lille learns the legacy ids through the feed's aliases.
    output = pull(lille, legacy, "legacy")
    assert counts(output)["created"] == 0, output
    assert entries_count(lille) == total + 1
    no_entry_twice(lille)
    assert lille.sql("SELECT count(*) FROM evaluations WHERE deleted_at IS NULL")[0][0] == 3

    # A link can be undone: the café of the hub becomes an entry of its own again.
    cafe_there = next(i for i, r in lille.state().items() if r["name"] == "Café commun de Fives")
    listed = legacy.cli("sync", "links").output
    assert cafe_there in listed and "same website" in listed
    result = legacy.cli("sync", "unlink", cafe_there)
    assert result.exit_code == 0, result.output
    assert f"Created entry {cafe_there}" in result.output, result.output
    assert legacy.state()[cafe_there]["name"] == "Café commun de Fives"
    assert entries_count(legacy) == total + 2
    assert cafe_there not in legacy.cli("sync", "links").output

    # A push meets the same rule on the target: a twin there is linked, not created, and
    # where it differs it is reported, not overwritten; the demo arrives under the
    # stable ids that the target knows as aliases, links included.
    velo = lille.create({"kind": "initiative", "name": "Atelier vélo de Fives",
                         "website": "https://velo-fives.example"})
    legacy.create({"kind": "initiative", "name": "Atelier vélo (Fives)",
                   "website": "https://www.velo-fives.example"})
    before = entries_count(legacy)
    output = push(lille, legacy, "lille")
    assert counts(output)["created"] == 0 and counts(output)["conflicts"] == 1, output
    assert f"conflict atelier-velo-de-fives {velo}: changed on the target" in output
    assert entries_count(legacy) == before
    assert velo in legacy.cli("sync", "links").output


def test_sheets_travel_both_ways_between_an_empty_instance_and_the_demo(lille, hub):
    output = pull(hub, lille, "lille")
    assert hub.state() == lille.state()
    assert hub.sheets() == lille.sheets()
    assert lille.draft not in hub.sheets()
    assert hub.sql("SELECT count(*) FROM evaluations")[0][0] == len(lille.sheets())
    assert counts(output, "sheets")["created"] == len(lille.sheets())

    # Lille unpublishes one sheet and rewrites an answer of another: a tombstone and an
    # update; the draft stays invisible even as a tombstone.
    write_sheet(lille, "dokuwiki", lille.new_sheet, state="draft")
    coroutine = demo_sheet_id(lille)
    write_sheet(lille, "la-coroutine", coroutine,
                answers={"financing": {"stakes": "Réécrit à Lille."}})
    write_sheet(lille, "mutualab", lille.draft, answers={"sharing": {"limits": "Relu."}})
    output = pull(hub, lille, "lille")
    assert counts(output, "sheets") == {"updated": 1, "deleted": 1}, output
    assert hub.sheets() == lille.sheets()
    assert lille.new_sheet not in hub.sheets()

    # The hub now loads the demo too: nothing twice, the mirrored entries adopted.
    result = hub.cli("demo", "load")
    assert result.exit_code == 0, result.output
    assert entries_count(hub) == entries_count(lille)
    no_entry_twice(hub)
    assert hub.sheets() == lille.sheets()

    # The hub's own entry and sheets (one published, one draft) go to Lille by push.
    own = hub.create({"kind": "initiative", "name": "Initiative du hub"})
    published = write_sheet(hub, "initiative-du-hub", title="Revue du hub",
                            held_on="2025-01-15", state="published",
                            answers={"legal": {"level": 1, "limits": "Aucun statut."}})
    draft = write_sheet(hub, "initiative-du-hub", title="Brouillon du hub",
                        held_on="2025-02-15", state="draft")
    before = lille.gate.count("PUT", "/api/v1/entries/")
    lille.gate.batch = False  # one PUT per entry sent (as to an older instance): countable
    output = push(hub, lille, "hub")
    lille.gate.batch = True
    assert counts(output)["created"] == 1 and counts(output)["conflicts"] == 0, output
    # What the hub pulled from Lille and did not change is not echoed back to it.
    assert lille.gate.count("PUT", "/api/v1/entries/") - before == 1
    assert counts(output, "sheets")["created"] == 1, output
    assert own in lille.state() and published in lille.sheets()
    assert lille.sql("SELECT count(*) FROM evaluations WHERE id = :id", id=draft)[0][0] == 0

    # And Lille pushes to the hub, the hub pulls from Lille: nothing new, nothing twice.
    output = push(lille, hub, "lille")
    assert counts(output)["created"] == 0 and counts(output)["conflicts"] == 0, output
    output = pull(hub, lille, "lille")
    assert counts(output)["created"] == 0, output
    assert hub.state() == lille.state()
    assert hub.sheets() == lille.sheets()
    no_entry_twice(hub)
    no_entry_twice(lille)
    assert hub.sql("SELECT count(*) FROM evaluations WHERE state = 'draft'")[0][0] == 1


def test_a_sheet_text_written_here_is_never_overwritten_by_a_pull(lille, hub):
    pull(hub, lille, "lille")
    coroutine = demo_sheet_id(lille)
    assert coroutine in hub.sheets()
    write_sheet(hub, "la-coroutine", coroutine,
                answers={"governance": {"strengths": "Écrit par une éditrice du hub."}})
    write_sheet(lille, "la-coroutine", coroutine,
                answers={"governance": {"strengths": "Réécrit à Lille.",
                                        "limits": "Limites revues à Lille."}})
    output = pull(hub, lille, "lille")
    governance = next(a for a in hub.sheets()[coroutine]["answers"]
                      if a.startswith("governance|"))
    assert "Écrit par une éditrice du hub." in governance  # the editor's text stays
    assert "Limites revues à Lille." in governance  # the part nobody changed here follows
    assert "conflict: " in output and "answers/governance/strengths" in output

    # Deleted on Lille, but changed here since: kept, and reported.
    with lille.context():
        from app.services.evaluations import delete_evaluation

        sheet = db.session.get(Evaluation, uuid.UUID(coroutine))
        delete_evaluation(sheet, expected_version=sheet.version, author=EDITOR)
    output = pull(hub, lille, "lille")
    assert coroutine in hub.sheets()
    assert "changed here since the last pull: kept" in output


def test_an_instance_without_the_sheets_feed_still_gives_its_entries(lille, hub):
    """A peer older than the sheets' feed answers 404 there: the pull takes its entries,
    warns, and keeps its sheets' cursor for when the peer has one."""
    served = lille.gate.app

    def older(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/api/v1/evaluations"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        return served(environ, start_response)

    cursor = hub.sql("SELECT sheet_cursor FROM sync_states WHERE direction = 'pull'")
    lille.edit("mutualab", summary="Changé pendant que Lille était ancienne.")
    lille.gate.app = older
    try:
        output = pull(hub, lille, "lille")
    finally:
        lille.gate.app = served
    assert counts(output)["updated"] == 1
    assert "the remote has no sheets' feed" in output
    assert hub.sql("SELECT sheet_cursor FROM sync_states WHERE direction = 'pull'") == cursor
