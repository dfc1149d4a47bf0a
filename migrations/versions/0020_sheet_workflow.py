"""Sheet workflow for meetings: level definitions of the six keys, and the live co-editing layer.

`evaluation_keys.level_definitions` (the column is migration 0015's) says what levels 0–4
of a key mean ({"fr": [5], "en": [5]}), shown beside the choice: the six keys get
definitions here unless an editor wrote some already. `sheet_live_fields` holds the text being typed in an open
sheet, field by field, with a sequence number that the pages poll; `sheet_presence` who has
the sheet open. Neither reaches a public output: only a save writes the sheet.

Revision ID: 0020
Revises: 0019
"""

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

LEVEL_DEFINITIONS = {
    "governance": (
        ["Personne ne sait qui décide.",
         "Quelques personnes décident, sans règles écrites.",
         "Des règles écrites, peu appliquées ou peu connues.",
         "Des règles connues et appliquées ; les contributeurs peuvent peser.",
         "Une gouvernance ouverte, documentée, qui évolue avec ses membres."],
        ["Nobody knows who decides.",
         "A few people decide, with no written rules.",
         "Written rules, seldom applied or little known.",
         "Known rules, applied; contributors have a say.",
         "Open, documented governance that changes with its members."]),
    "financing": (
        ["Aucune ressource.",
         "Des ressources ponctuelles, d'une seule source.",
         "Des ressources régulières mais fragiles ou d'une seule source.",
         "Des ressources diverses et régulières, une redistribution discutée.",
         "Un modèle durable et diversifié, une redistribution transparente."],
        ["No resources.",
         "One-off resources from a single source.",
         "Regular but fragile resources, or from a single source.",
         "Diverse, regular resources; redistribution is discussed.",
         "A lasting, diverse model with transparent redistribution."]),
    "contribution": (
        ["Personne ne peut contribuer.",
         "On contribue sur invitation, sans outils partagés.",
         "Des outils partagés, des méthodes peu explicites.",
         "Des outils et des méthodes ouverts, un accueil des nouveaux.",
         "Une culture de contribution vivante, documentée, qui s'essaime."],
        ["Nobody can contribute.",
         "Contribution by invitation, with no shared tools.",
         "Shared tools, methods seldom made explicit.",
         "Open tools and methods; newcomers are welcomed.",
         "A living, documented culture of contribution that spreads."]),
    "sharing": (
        ["Rien n'est partagé.",
         "Le savoir est partagé sur demande.",
         "Une partie du savoir est publiée, sans licence claire.",
         "Le savoir est publié sous licence libre et tenu à jour.",
         "Le savoir est ouvert, réutilisé et enrichi par d'autres communs."],
        ["Nothing is shared.",
         "Knowledge is shared on request.",
         "Part of the knowledge is published, with no clear licence.",
         "Knowledge is published under a free licence and kept up to date.",
         "Knowledge is open, reused and improved by other commons."]),
    "legal": (
        ["Aucune structure ni licence.",
         "Une structure informelle, pas de licence.",
         "Une structure juridique, des licences à préciser.",
         "Une structure adaptée et des licences libres sur l'essentiel.",
         "Une structure et des licences qui protègent le commun dans la durée."],
        ["No structure and no licence.",
         "An informal structure, no licence.",
         "A legal structure; licences still to settle.",
         "A fitting structure and free licences on the essentials.",
         "A structure and licences that protect the commons for the long run."]),
    "partners": (
        ["Aucun lien avec l'extérieur.",
         "Des contacts isolés.",
         "Quelques partenaires, des liens de dépendance.",
         "Des partenariats choisis, publics et privés, sans dépendance.",
         "Un réseau de partenaires qui soutient le commun sans le capter."],
        ["No link outside.",
         "Isolated contacts.",
         "A few partners; some dependence.",
         "Chosen public and private partnerships, with no dependence.",
         "A network of partners that supports the commons without capturing it."]),
}


def upgrade() -> None:
    for slug, (fr, en) in LEVEL_DEFINITIONS.items():
        op.execute(sa.text("UPDATE evaluation_keys SET level_definitions = CAST(:v AS jsonb) "
                           "WHERE slug = :slug AND level_definitions IS NULL")
                   .bindparams(v=json.dumps({"fr": fr, "en": en}, ensure_ascii=False),
                               slug=slug))

    op.create_table(
        "sheet_live_fields",
        sa.Column("evaluation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("field", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["evaluation_id"], ["evaluations.id"],
                                name="fk_sheet_live_fields_evaluation_id_evaluations",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_sheet_live_fields_user_id_users",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("evaluation_id", "field", name="pk_sheet_live_fields"),
    )
    op.create_index("ix_sheet_live_fields_seq", "sheet_live_fields",
                    ["evaluation_id", "seq"], unique=False)
    op.execute("CREATE SEQUENCE sheet_live_seq")
    op.create_table(
        "sheet_presence",
        sa.Column("evaluation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("client_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=80), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["evaluation_id"], ["evaluations.id"],
                                name="fk_sheet_presence_evaluation_id_evaluations",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_sheet_presence_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("evaluation_id", "client_id", name="pk_sheet_presence"),
    )


def downgrade() -> None:
    op.drop_table("sheet_presence")
    op.execute("DROP SEQUENCE sheet_live_seq")
    op.drop_index("ix_sheet_live_fields_seq", table_name="sheet_live_fields")
    op.drop_table("sheet_live_fields")
