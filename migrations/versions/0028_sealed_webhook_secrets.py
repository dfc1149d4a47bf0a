"""Webhook secrets sealed: encrypted with a key derived from SECRET_KEY
(app/sealing.py), as sources' credentials are, instead of kept in clear. A copy of the
database (a backup, a dump handed to someone) no longer lets its holder sign requests
as this atlas. Rows written before are sealed here; the downgrade opens them again.

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

# app.webhooks.subscribers.SECRET_PURPOSE, repeated: a migration keeps its own meaning
# whatever the code becomes.
PURPOSE = b"atlas webhook secrets"


def _rewrite(change, keep) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, secret FROM webhook_subscribers ORDER BY id"))
    for row_id, secret in rows.fetchall():
        if keep(secret):
            continue
        conn.execute(sa.text("UPDATE webhook_subscribers SET secret = :s WHERE id = :i"),
                     {"s": change(secret), "i": row_id})


def upgrade() -> None:
    from app.sealing import is_sealed, seal

    _rewrite(lambda secret: seal(secret, PURPOSE), is_sealed)


def downgrade() -> None:
    from app.sealing import is_sealed, unseal

    _rewrite(lambda secret: unseal(secret, PURPOSE), lambda secret: not is_sealed(secret))
