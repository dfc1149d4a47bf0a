"""The one three-way rule (app/services/threeway.py), on plain values."""

from app.services.threeway import merge


def test_a_field_follows_the_source_only_where_nobody_changed_it_here():
    last = {"name": "A", "summary": "s", "city": "Lille", "tags": ["a", "b"]}
    current = {"name": "A", "summary": "edited here", "city": "Lille", "tags": ["a", "b", "g"]}
    incoming = {"name": "A2", "summary": "s2", "city": "Lille", "tags": ["b", "r"]}
    out = merge(current, last, incoming)
    assert out.changes == {"name": "A2", "tags": ["b", "g", "r"]}
    assert out.conflicts == [("summary", "edited here", "s2")]
    # Written; then nothing new from the source: nothing to write, nothing to report.
    out = merge({**current, **out.changes}, incoming, incoming)
    assert (out.changes, out.conflicts) == ({}, [])


def test_applied_is_the_baseline_here_when_the_source_write_became_something_else():
    """A sync pull: the remote's slug was taken here, so the entry got another; a link
    waited for its target. Neither reads as an editor's change."""
    last = {"slug": "x", "summary": "s", "relations": [{"type": "uses", "target": "t"}]}
    applied = {"slug": "x-2", "summary": "s", "relations": []}
    current = {"slug": "x-2", "summary": "edited here", "relations": []}
    incoming = {"slug": "x", "summary": "s", "relations": [{"type": "uses", "target": "t"}]}
    out = merge(current, last, incoming, applied=applied)
    # The slug was not changed here: it follows (and the write falls back again); the
    # link whose target came is made; the editor's summary stays, no conflict (the
    # remote did not change it).
    assert out.changes == {"slug": "x", "relations": [{"type": "uses", "target": "t"}]}
    assert out.conflicts == []
    # Without `applied`, the slug would read as an editor's change.
    assert "slug" not in merge(current, last, incoming).changes
