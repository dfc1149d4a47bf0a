"""Closed vocabularies, defined once for models, schemas and database constraints."""

ENTRY_KINDS = ("commons", "third_place", "initiative")
ENTRY_STATUSES = ("active", "planned", "closed")
MODERATION_STATES = ("published", "pending", "rejected")
RELATION_TYPES = ("hosted_by", "part_of", "uses", "partner_of", "inspired_by")
EVALUATION_STATES = ("draft", "published")
USER_ROLES = ("admin", "editor", "contributor")
PROPOSAL_ACTIONS = ("create", "update")
PROPOSAL_STATES = ("pending", "accepted", "rejected")
TAG_GROUPS = ("activity", "theme", "audience")
LEVEL_MIN, LEVEL_MAX = 0, 4
# Kinds that are places by nature: they need a position.
LOCATED_KINDS = ("third_place",)


def sql_in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK expression restricting `column` to `values` (literals are ours, never input)."""
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})"
