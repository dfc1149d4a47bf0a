"""Facet counts: what each filter option would give, computed from the demo file."""

from collections import Counter

from app.query import EntryFilter, facet_counts
from tests import demo_data


def expected_kinds(tags=()):
    return Counter(e["kind"] for e in demo_data.entries()
                   if not tags or set(tags) & set(e.get("tags", [])))


def expected_tags(kinds=()):
    return Counter(t for e in demo_data.entries() if not kinds or e["kind"] in kinds
                   for t in e.get("tags", []))


def test_counts_without_filter(session):
    facets = facet_counts(EntryFilter())
    assert facets.kinds == dict(expected_kinds())
    assert facets.tags == dict(expected_tags())


def test_a_dimension_ignores_its_own_filter_but_not_the_others(session):
    f = EntryFilter(kinds=("third_place",), tags=("grocery",))
    facets = facet_counts(f)
    # Kind options: what each kind gives with tag=grocery.
    assert facets.kinds == dict(expected_kinds(tags=("grocery",)))
    # Tag options: what each tag gives among third places.
    assert facets.tags == dict(expected_tags(kinds=("third_place",)))
    assert facets.as_json() == {"kind": facets.kinds, "tag": facets.tags}


def test_counts_follow_the_located_filter(session):
    located = [e for e in demo_data.entries() if "lon" in e]
    facets = facet_counts(EntryFilter(located=True))
    assert facets.kinds == dict(Counter(e["kind"] for e in located))
