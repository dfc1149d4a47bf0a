"""The one tag rule (app/services/tags.py): what a valid tag is, and get-or-create."""

from sqlalchemy import select

from app.extensions import db
from app.models import Tag
from app.services.tags import ensure_tags


def test_new_tags_are_stored_normalised_and_existing_ones_are_left_alone(session):
    before = db.session.scalar(select(Tag).where(Tag.slug == "garden"))
    labels = (before.label_fr, before.label_en, before.group)
    done = ensure_tags([
        {"slug": "atelier-bois", "label_fr": "  Atelier\r\nbois  ", "label_en": ""},
        {"slug": "garden", "label_fr": "Renommé ?", "label_en": "Renamed?", "group": "theme"},
        {"slug": "atelier-bois", "label_fr": "Doublon"},  # the first one wins
    ])
    assert (done.created, done.refused) == (["atelier-bois"], [])
    tag = db.session.scalar(select(Tag).where(Tag.slug == "atelier-bois"))
    assert (tag.label_fr, tag.label_en, tag.group) == ("Atelier\nbois", "atelier-bois",
                                                       "activity")
    db.session.refresh(before)
    assert (before.label_fr, before.label_en, before.group) == labels  # an admin's labels


def test_a_tag_that_cannot_be_stored_is_refused_with_its_field(session):
    count = len(db.session.scalars(select(Tag.slug)).all())
    done = ensure_tags([
        {"slug": "Jardin Partagé", "label_fr": "Jardin"},
        {"slug": "atelier", "group": "workshop"},
        {"slug": "long", "label_en": "x" * 121},
        {"label_fr": "Sans slug"},
        {"slug": "fine"},
    ])
    assert done.created == ["fine"]
    reasons = dict(done.refused)
    assert reasons["Jardin Partagé"].startswith("slug: 'Jardin Partagé' is not a tag slug")
    assert reasons["atelier"] == "group: 'workshop' is not one of activity, theme, audience."
    assert reasons["long"] == "label_en: Longer than 120 characters."
    assert reasons["None"].startswith("slug: None is not a tag slug")
    assert len(db.session.scalars(select(Tag.slug)).all()) == count + 1
