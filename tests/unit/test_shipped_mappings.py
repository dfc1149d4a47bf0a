"""The mappings shipped in data/mappings/: each declares every tag it gives, so that it
imports into an atlas started without the demo (whose tags are otherwise missing and
every row that gives one is refused: "Unknown tag")."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from importers.mapping import load_csv_mapping, load_osm_mapping

MAPPINGS = sorted((PROJECT_ROOT / "data" / "mappings").rglob("*.toml"))


def given_and_declared(path: Path) -> tuple[set[str], set[str]]:
    if path.parent.name == "csv":
        mapping = load_csv_mapping(path)
        given = set(mapping.constant_tags)
        for rule in mapping.tag_rules:
            for slugs in rule.values.values():
                given |= {slugs} if isinstance(slugs, str) else set(slugs)
    else:
        mapping = load_osm_mapping(path)
        given = {slug for rule in (*mapping.rules, *mapping.extra) for slug in rule.tags}
    return given, {tag["slug"] for tag in mapping.tags}


@pytest.mark.parametrize("path", MAPPINGS, ids=lambda p: p.name)
def test_a_shipped_mapping_declares_every_tag_it_gives(path):
    given, declared = given_and_declared(path)
    if path.name != "atlas.toml":  # our own export's tags come from its cells
        assert given, "a mapping that gives no tag: this test reads it wrong"
    assert not given - declared, f"{path.name}: tags given but not declared: {given - declared}"
