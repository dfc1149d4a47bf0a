"""The query layer on the demo data: French search, typos, bbox, near, tags, kinds.

Expected answers are computed from data/demo/lille.toml in Python, independently
of the SQL under test.
"""

from itertools import pairwise

import pytest
from werkzeug.datastructures import MultiDict

from app.query import (
    EntryFilter,
    Near,
    ParameterError,
    count_entries,
    parse_filter,
    search_entries,
    unknown_tags,
)
from tests import demo_data


def slugs(f: EntryFilter, sort: str = "name") -> set[str]:
    return {e.slug for e in search_entries(f, sort=sort)}


def test_accent_and_case_blind_french_search(session):
    groceries = {e["slug"] for e in demo_data.entries()
                 if "picerie" in (e["name"] + " " + e.get("summary", "")).lower()}
    assert len(groceries) >= 3
    assert groceries <= slugs(EntryFilter(text="epicerie"))
    assert slugs(EntryFilter(text="EPICERIE")) == slugs(EntryFilter(text="épicerie"))


def test_cooperative_finds_coopérative(session):
    coop = {e["slug"] for e in demo_data.entries()
            if "coopérative" in (e["name"] + " " + e.get("summary", "")).lower()}
    assert coop
    assert coop <= slugs(EntryFilter(text="cooperative"))


def test_typo_falls_back_to_trigrams(session):
    found = search_entries(EntryFilter(text="mutualabb"), sort="relevance")
    assert found[0].slug == "mutualab"


def test_every_word_of_a_search_counts_even_with_a_typo(session):
    """A search of several words finds what has them all, typos forgiven word by word:
    "repair cafe fives" is the Fives repair café, not every repair café (one name close
    to the whole query was enough: at 1,000,000 entries "épicerie fives" found every
    épicerie, 100,000 rows rechecked in 1.4-5.5 s, not the 12,500 of Fives)."""
    repair_cafes = {"repair-cafe-mres", "repair-cafe-tipimi", "repair-cafe-bois-blancs"}
    assert repair_cafes <= slugs(EntryFilter(text="repair cafe"))
    for query in ("repair cafe fives", "repair cafe fivess", "repar cafe fives"):
        found = slugs(EntryFilter(text=query))
        assert "repair-cafe-tipimi" in found, query
        assert not found & {"repair-cafe-mres", "repair-cafe-bois-blancs"}, (query, found)
    assert search_entries(EntryFilter(text="repar cafe fivess"),
                          sort="relevance")[0].slug == "repair-cafe-tipimi"


def test_search_text_cannot_inject_tsquery_operators(session):
    assert slugs(EntryFilter(text="epicerie & | ! ( :*")) == slugs(EntryFilter(text="epicerie"))
    assert slugs(EntryFilter(text="'); DROP TABLE entries; --")) == set()
    assert count_entries(EntryFilter()) == len(demo_data.entries())


def test_bbox_returns_exactly_the_entries_inside(session):
    box = (3.03, 50.62, 3.08, 50.64)
    expected = {e["slug"] for e in demo_data.located()
                if box[0] <= e["lon"] <= box[2] and box[1] <= e["lat"] <= box[3]}
    assert 3 <= len(expected) < len(demo_data.located())
    assert slugs(EntryFilter(bbox=box)) == expected


def test_near_returns_exactly_the_entries_within_the_radius(session):
    centre = next(e for e in demo_data.entries() if e["slug"] == "mres")
    distances = {e["slug"]: demo_data.haversine_m(centre["lon"], centre["lat"], e["lon"], e["lat"])
                 for e in demo_data.located()}
    # A radius in a wide gap between two neighbours' distances, so that the
    # sphere/spheroid difference (< 0.5 %) cannot move anyone across the edge.
    ordered = sorted(distances.values())
    radius = next((a + b) / 2 for a, b in pairwise(ordered[2:])
                  if b > 1.05 * a and a > 300)
    expected = {slug for slug, d in distances.items() if d <= radius}
    assert 3 <= len(expected) < len(distances)
    f = EntryFilter(near=Near(centre["lon"], centre["lat"], radius))
    assert slugs(f) == expected
    by_distance = [e.slug for e in search_entries(f, sort="distance")]
    assert by_distance[0] == "mres"
    assert [round(distances[s]) for s in by_distance] == sorted(
        round(distances[s]) for s in by_distance)


def test_tag_and_kind_filters(session):
    tag = "repair"
    expected = {e["slug"] for e in demo_data.entries() if tag in e.get("tags", [])}
    assert expected
    assert slugs(EntryFilter(tags=(tag,))) == expected
    two = ("repair", "garden")
    assert slugs(EntryFilter(tags=two)) == {
        e["slug"] for e in demo_data.entries() if set(two) & set(e.get("tags", []))}
    commons = {e["slug"] for e in demo_data.entries() if e["kind"] == "commons"}
    assert slugs(EntryFilter(kinds=("commons",))) == commons
    assert slugs(EntryFilter(kinds=("commons",), located=False)) == {
        e["slug"] for e in demo_data.entries() if e["kind"] == "commons" and "lon" not in e}
    assert unknown_tags(["repair", "nope"]) == ["nope"]


def test_deleted_and_pending_entries_stay_out_by_default(session):
    from app.services.entries import delete_entry, get_entry, update_entry
    from app.services.revisions import Author

    author = Author(label="test")
    mres = get_entry("mres")
    delete_entry(mres, expected_version=mres.version, author=author)
    cofab = get_entry("la-cofabrik")
    update_entry(cofab, {"moderation": "pending"}, expected_version=cofab.version,
                 author=author)
    public = slugs(EntryFilter())
    assert "mres" not in public and "la-cofabrik" not in public
    assert "mres" in slugs(EntryFilter(include_deleted=True))
    assert "la-cofabrik" in slugs(EntryFilter(moderation=("pending",)))


def args(**kwargs) -> MultiDict:
    return MultiDict([(k, v) for k, vs in kwargs.items()
                      for v in (vs if isinstance(vs, list) else [vs])])


def test_parse_filter_reads_every_parameter():
    f = parse_filter(args(kind="commons,initiative", tag=["repair", "garden"],
                          bbox="2.9,50.5,3.2,50.8", near="3.06,50.63", radius="500",
                          q=" épicerie ", status="active", updated_since="2024-01-01",
                          located="true"))
    assert f.kinds == ("commons", "initiative")
    assert f.tags == ("repair", "garden")
    assert f.bbox == (2.9, 50.5, 3.2, 50.8)
    assert f.near == Near(3.06, 50.63, 500)
    assert f.text == "épicerie"
    assert f.updated_since.isoformat() == "2024-01-01T00:00:00+00:00"
    assert f.located is True
    assert f.moderation == ("published",) and not f.include_deleted


@pytest.mark.parametrize(("query", "parameter", "words"), [
    ({"bbox": "1,2,3"}, "bbox", "expected 4 numbers"),
    ({"bbox": "3.0,200,3.1,50"}, "bbox", "latitude 200"),
    ({"bbox": "a,b,c,d"}, "bbox", "not a number"),
    ({"bbox": "3,50.7,3.1,50.6"}, "bbox", "minimum latitude"),
    ({"near": "3.06"}, "near", "lon,lat"),
    ({"near": "3.06,50.6", "radius": "0"}, "radius", "between"),
    ({"radius": "100"}, "radius", "near"),
    ({"kind": "foo"}, "kind", "unknown value 'foo'"),
    ({"tag": "Bad Tag"}, "tag", "not a tag slug"),
    ({"updated_since": "yesterday"}, "updated_since", "ISO 8601"),
    ({"located": "maybe"}, "located", "boolean"),
    ({"bbox": "nan,1,2,3"}, "bbox", "finite"),
])
def test_parse_filter_names_the_bad_parameter(query, parameter, words):
    with pytest.raises(ParameterError) as excinfo:
        parse_filter(args(**query))
    assert excinfo.value.parameter == parameter
    assert words in excinfo.value.message


def test_unknown_tags_are_refused_when_checked(session):
    with pytest.raises(ParameterError) as excinfo:
        parse_filter(args(tag="repair,nope"), tag_exists=unknown_tags)
    assert excinfo.value.parameter == "tag" and "'nope'" in excinfo.value.message


def test_private_parameters_need_permission():
    assert parse_filter(args(moderation="pending")).moderation == ("published",)
    f = parse_filter(args(moderation="pending", include_deleted="true"), allow_private=True)
    assert f.moderation == ("pending",) and f.include_deleted
