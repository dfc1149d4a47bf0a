"""`flask sync pull`: two real instances on loopback, each with its own database."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.support.sync import SMALL_DEMO, Instance


@pytest.fixture
def lille(databases):
    """The small demo (tests/support/sync.py SMALL_DEMO): no test here depends on the
    volume (the full mirror included: it fills every field the whole demo fills,
    test_sync_push.py checks); test_sync_batch.py pulls a hundred entries in pages."""
    instance = Instance(databases, "lille_small", small=True).start()
    yield instance
    instance.stop()


@pytest.fixture
def hub(databases):
    return Instance(databases, "hub")


def pull(hub: Instance, lille: Instance, *more: str):
    result = hub.cli("sync", "pull", "--from", lille.url, "--name", "lille", "--backoff", "0",
                     *more)
    return result


def counts(output: str) -> dict[str, int]:
    line = next(line for line in output.splitlines() if line.startswith("created:"))
    return {k.strip(): int(v) for k, v in (part.split(":") for part in line.split(","))}


def test_pull_mirrors_another_instance_and_follows_its_changes(lille, hub):
    result = pull(hub, lille)
    assert result.exit_code == 0, result.output
    assert counts(result.output)["created"] == len(SMALL_DEMO)
    assert hub.state() == lille.state()
    # Every entry records where it came from, with the remote's licence.
    sources = hub.sql("SELECT origin, external_id, entry_id::text, licence FROM sources")
    assert {(o, x, lic) for o, x, _, lic in sources} == {
        ("remote:lille", i, "ODbL-1.0") for i in lille.state()}
    assert all(x == e for _, x, e, _ in sources)

    again = pull(hub, lille)
    assert again.exit_code == 0, again.output
    assert set(counts(again.output).values()) == {0}

    # Creates, edits and deletes on Lille; a link whose target comes later in the feed.
    lille.edit("mutualab", summary="Un résumé réécrit à Lille.", city="Lille-Centre")
    target = lille.create({"kind": "commons", "name": "Outil partagé", "tags": ["software"]})
    linked = lille.create({"kind": "initiative", "name": "Collectif relié",
                           "relations": [{"type": "uses", "target": target}]})
    lille.edit(target, summary="Modifié après le collectif qui l'utilise.")
    lille.delete("superquinquin-val-de-marque")
    result = pull(hub, lille)
    assert result.exit_code == 0, result.output
    assert counts(result.output) == {"created": 2, "updated": 1, "unchanged": 0, "deleted": 1,
                                     "conflicts": 0, "rejected": 0, "skipped": 0,
                                     "warnings": 0}
    state = hub.state()
    assert state == lille.state()
    assert state[linked]["relations"] == [f"uses:{target}"]

    # The same instance under another name would split its entries' sources: refused.
    renamed = hub.cli("sync", "pull", "--from", lille.url, "--name", "lille2")
    assert renamed.exit_code != 0 and "known here as 'lille'" in renamed.output


def test_a_local_edit_is_never_overwritten_and_is_reported(lille, hub):
    assert pull(hub, lille).exit_code == 0
    hub.edit("mutualab", summary="Édité dans le hub.")
    hub.edit("dokuwiki", summary="Le hub a précisé ce résumé.")
    hub.delete("la-coroutine")
    lille.edit("mutualab", summary="Édité à Lille.", city="Lille (59)")
    lille.edit("la-coroutine", website="https://lacoroutine.example")
    lille.edit("ajonc", summary="Seulement à Lille.")
    lille.delete("dokuwiki")
    lille.delete("superquinquin-val-de-marque")

    result = pull(hub, lille)
    assert result.exit_code == 0, result.output
    ours, theirs = hub.state(), lille.state()
    mutualab = next(r for r in ours.values() if r["slug"] == "mutualab")
    assert mutualab["summary"] == "Édité dans le hub."  # the editor's value stays
    assert mutualab["city"] == "Lille (59)"  # a field the editor did not touch follows
    assert "conflict: mutualab [summary]" in result.output
    dokuwiki = next(r for r in ours.values() if r["slug"] == "dokuwiki")
    assert dokuwiki["summary"] == "Le hub a précisé ce résumé."  # edited here: not deleted
    assert "conflict: dokuwiki: deleted on lille, but changed here" in result.output
    assert "la-coroutine" not in {r["slug"] for r in ours.values()}  # not restored
    assert "skipped: la-coroutine: deleted here by an editor" in result.output
    assert "superquinquin-val-de-marque" not in {r["slug"] for r in ours.values()}
    ajonc = next(r for r in ours.values() if r["slug"] == "ajonc")
    assert ajonc["summary"] == "Seulement à Lille."
    assert counts(result.output)["deleted"] == 1

    # Later changes on Lille: the edited field stays local, the others still follow.
    lille.edit("mutualab", summary="Encore changé à Lille.", website="https://mutualab.example")
    result = pull(hub, lille)
    assert result.exit_code == 0, result.output
    mutualab = next(r for r in hub.state().values() if r["slug"] == "mutualab")
    assert mutualab["summary"] == "Édité dans le hub."
    assert mutualab["website"] == "https://mutualab.example"
    # Everything else is as on Lille, but for the links to the entry deleted here.
    coroutine = next(i for i, r in theirs.items() if r["slug"] == "la-coroutine")

    def rest(state):
        return {i: {**r, "relations": [x for x in r["relations"] if coroutine not in x]}
                for i, r in state.items()
                if r["slug"] not in ("mutualab", "dokuwiki", "la-coroutine")}

    assert rest(hub.state()) == rest(lille.state())


def test_deletions_apply_only_to_what_came_from_that_remote(lille, hub):
    shared = uuid.uuid4()
    hub.create({"kind": "initiative", "name": "Initiative du hub"}, entry_id=shared)
    lille.create({"kind": "initiative", "name": "Initiative lilloise"}, entry_id=shared)
    result = pull(hub, lille)
    assert result.exit_code == 0, result.output
    assert "conflict: initiative-du-hub: an entry with this id exists here and does not " \
           "come from lille" in result.output
    lille.delete(str(shared))
    result = pull(hub, lille)
    assert result.exit_code == 0, result.output
    assert hub.state()[str(shared)]["name"] == "Initiative du hub"
    assert "deleted on lille, but the entry here does not come from lille" in result.output
    # The entries that did come from Lille are all here, as on Lille.
    ours = hub.state()
    assert {i: r for i, r in ours.items() if i != str(shared)} == lille.state()


def test_pull_retries_with_backoff_and_resumes_after_the_remote_went_away(lille, hub):
    lille.gate.fail_next = 2  # two 503 answers, then the real ones
    result = pull(hub, lille, "--retries", "3", "--page-size", "10")
    assert result.exit_code == 0, result.output
    # The first request (the licence the remote declares) was tried three times.
    assert lille.gate.count("GET", "/api/openapi.json") == 3
    assert hub.state() == lille.state()

    # New entries on Lille; Lille stops after serving two pages of the feed.
    created = [lille.create({"kind": "initiative", "name": f"Nouvelle initiative {n}"})
               for n in range(25)]
    served = lille.gate.count("GET", "/api/v1/changes")
    lille.stop_when(lambda gate: gate.count("GET", "/api/v1/changes") >= served + 2)
    result = pull(hub, lille, "--retries", "1", "--page-size", "10")
    assert result.exit_code != 0
    assert "could not be reached" in result.output and "resume" in result.output
    assert len(set(created) & set(hub.state())) == 20  # two pages of ten were kept
    lille.start()  # back, on the same address
    result = pull(hub, lille, "--page-size", "10")
    assert result.exit_code == 0, result.output
    assert counts(result.output)["created"] == 5
    assert hub.state() == lille.state()
    runs = hub.sql("SELECT status FROM import_runs WHERE origin = 'remote:lille' ORDER BY id")
    assert [r[0] for r in runs] == ["finished", "failed", "finished"]


def test_a_remote_text_that_differs_only_by_its_line_ends_is_no_conflict(lille, hub):
    """An instance that stored a form's CRLF as sent (before text was normalised) serves
    it in its feed: the same words, so no conflict and nothing written here (a write
    would make the entry read as edited here, and the next real change a conflict)."""
    lille.edit("mutualab", description="Un lieu partagé.\n\nDes bureaux, un atelier.")
    assert pull(hub, lille).exit_code == 0
    hub.edit("mutualab", summary="Édité dans le hub.")  # edited here since the pull
    with lille.context():
        db.session.execute(text("UPDATE entries SET description = replace(description, "
                                "E'\\n', E'\\r\\n') WHERE slug = 'mutualab'"))
        db.session.commit()
    assert "\r\n" in lille.sql("SELECT description FROM entries WHERE slug = 'mutualab'")[0][0]
    version = hub.sql("SELECT version FROM entries WHERE slug = 'mutualab'")[0][0]

    result = pull(hub, lille)
    assert result.exit_code == 0, result.output
    assert "conflict" not in result.output.replace("conflicts: 0", "")
    assert (counts(result.output)["conflicts"], counts(result.output)["updated"]) == (0, 0)
    assert hub.sql("SELECT description, version FROM entries WHERE slug = 'mutualab'")[0] == (
        "Un lieu partagé.\n\nDes bureaux, un atelier.", version)


def test_a_remote_tag_this_instance_cannot_hold_is_reported_not_altered(lille, hub):
    """A peer's tag in a group this instance does not have is refused by the one tag rule
    (app/services/tags.py) and reported; it used to be created silently as an activity.
    The entries that carry it are rejected, each reported; the rest is mirrored."""
    with lille.context():
        db.session.execute(text("INSERT INTO tags (slug, label_fr, label_en, \"group\") "
                                "VALUES ('atelier', 'Atelier', 'Workshop', 'workshop')"))
        db.session.commit()
    odd = lille.create({"kind": "initiative", "name": "Atelier vélo", "tags": ["atelier"]})
    result = pull(hub, lille)
    assert result.exit_code == 0, result.output
    assert "warning: atelier [tags]: tag not created: group: 'workshop' is not one of" \
        in result.output
    assert "rejected: atelier-velo: tags" in result.output
    assert hub.sql("SELECT count(*) FROM tags WHERE slug = 'atelier'")[0][0] == 0
    assert counts(result.output)["rejected"] == 1
    assert {i: r for i, r in lille.state().items() if i != odd} == hub.state()


def test_tags_and_links_merge_as_sets_like_an_import(lille, hub):
    """The one three-way rule (app/services/threeway.py) for tags and links: a tag an
    editor added here stays, one the remote added arrives too, and neither is a conflict
    (sync pull used to keep the whole local list and report a conflict, losing the
    remote's tag)."""
    assert pull(hub, lille).exit_code == 0
    tags = sorted(next(r for r in lille.state().values() if r["slug"] == "mutualab")["tags"])
    assert "garden" not in tags and "repair" not in tags
    hub.edit("mutualab", tags=[*tags, "garden"], summary="Édité dans le hub.")
    lille.edit("mutualab", tags=[*tags, "repair"], city="Lille (59)")
    result = pull(hub, lille)
    assert result.exit_code == 0, result.output
    mutualab = next(r for r in hub.state().values() if r["slug"] == "mutualab")
    assert sorted(mutualab["tags"]) == sorted([*tags, "garden", "repair"])
    assert (mutualab["summary"], mutualab["city"]) == ("Édité dans le hub.", "Lille (59)")
    assert counts(result.output)["conflicts"] == 0, result.output

    # The remote drops its tag and one both had: gone here; the editor's tag stays.
    lille.edit("mutualab", tags=tags[1:])
    result = pull(hub, lille)
    assert result.exit_code == 0, result.output
    mutualab = next(r for r in hub.state().values() if r["slug"] == "mutualab")
    assert sorted(mutualab["tags"]) == sorted([*tags[1:], "garden"])
    assert mutualab["summary"] == "Édité dans le hub."
    # Nothing new on the remote: nothing written here.
    version = hub.sql("SELECT version FROM entries WHERE slug = 'mutualab'")[0][0]
    result = pull(hub, lille)
    assert counts(result.output)["updated"] == 0, result.output
    assert hub.sql("SELECT version FROM entries WHERE slug = 'mutualab'")[0][0] == version


def test_a_failed_pull_records_what_it_found_and_counts_only_what_stayed(lille, hub):
    """The one run ledger (app/services/runs.py), as for an import: a page that fails is
    rolled back, so its writes are not counted, but what it found (an entry rejected)
    stays in the failed run's report; the pull used to drop those lines."""
    with lille.context():
        db.session.execute(text("INSERT INTO tags (slug, label_fr, label_en, \"group\") "
                                "VALUES ('atelier', 'Atelier', 'Workshop', 'workshop')"))
        db.session.commit()
    lille.create({"kind": "initiative", "name": "Atelier vélo", "tags": ["atelier"]})
    app = lille.gate.app

    def a_broken_last_change(environ, start_response):
        """The feed's page, with a change this client cannot apply at its end."""
        answer = {}
        environ = {**environ, "HTTP_ACCEPT_ENCODING": "identity"}  # a body to read
        body = b"".join(app(environ, lambda status, headers, *exc: answer.update(
            status=status, headers=headers)))
        if environ.get("PATH_INFO") == "/api/v1/changes":
            page = json.loads(body)
            page["changes"].append({"op": "rename", "id": str(uuid.uuid4())})
            body = json.dumps(page).encode()
        headers = [(k, v) for k, v in answer["headers"] if k.lower() != "content-length"]
        start_response(answer["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    lille.gate.app = a_broken_last_change
    result = pull(hub, lille)
    assert result.exit_code != 0
    assert "unknown op 'rename'" in result.output
    assert hub.sql("SELECT count(*) FROM entries")[0][0] == 0
    status, created, rejected, report = hub.sql(
        "SELECT status, created, rejected, report FROM import_runs "
        "WHERE origin = 'remote:lille'")[0]
    assert (status, created, rejected) == ("failed", 0, 1)
    assert [line["kind"] for line in report] == ["warning", "rejected"]
    assert report[1]["entry"] == "atelier-velo"
