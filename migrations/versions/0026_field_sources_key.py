"""Who holds each field (entry_field_sources) keeps its keys to entries and users by
statement triggers instead of foreign keys.

A new entry has about fourteen holder rows, and a foreign key checks each row on its own
(a query and a row lock per row and per key): 1.5 s of PostgreSQL for the 70,840 rows of
5,060 entries, more than writing the rows (0.3 s), on every mirror's first pull or
push. The same guarantees, set-based (transition tables), one check per statement:

- holders written: every entry (and user) they name is locked FOR KEY SHARE, as the
  foreign key locked it, then looked for; one missing is a foreign_key_violation naming
  the old constraint. An entry deleted by a transaction still running is waited for,
  then found gone (sound under READ COMMITTED, which every writer uses);
- an entry deleted takes its holders with it (was ON DELETE CASCADE), a user deleted
  leaves them held by no one (was ON DELETE SET NULL), at the end of the statement;
- an entry's or user's id changed while holders name it is refused (was NO ACTION).

Revision ID: 0026
Revises: 0025
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

FUNCTIONS = """
CREATE FUNCTION public.atlas_field_sources_key() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text;
    kind text;
BEGIN
    PERFORM 1 FROM entries WHERE id IN (SELECT entry_id FROM new_rows) ORDER BY id
        FOR KEY SHARE;
    PERFORM 1 FROM users WHERE id IN (SELECT user_id FROM new_rows) ORDER BY id
        FOR KEY SHARE;
    SELECT 'entry_id', n.entry_id::text INTO kind, missing FROM new_rows n
    WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.id = n.entry_id) LIMIT 1;
    IF NOT FOUND THEN
        SELECT 'user_id', n.user_id::text INTO kind, missing FROM new_rows n
        WHERE n.user_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = n.user_id) LIMIT 1;
    END IF;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table "entry_field_sources" violates foreign key constraint "fk_entry_field_sources_%_%"', kind,
                        CASE kind WHEN 'entry_id' THEN 'entries' ELSE 'users' END
            USING ERRCODE = 'foreign_key_violation', TABLE = 'entry_field_sources',
                  DETAIL = format('Key (%s)=(%s) is not present in table "%s".', kind, missing,
                                  CASE kind WHEN 'entry_id' THEN 'entries' ELSE 'users' END);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.atlas_field_sources_of_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM entry_field_sources WHERE entry_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END
$$;

CREATE FUNCTION public.atlas_field_sources_of_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE entry_field_sources SET user_id = NULL WHERE user_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END
$$;

CREATE FUNCTION public.atlas_field_sources_of_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'entries' THEN
        DELETE FROM entry_field_sources;
    ELSE
        UPDATE entry_field_sources SET user_id = NULL WHERE user_id IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.atlas_field_sources_held_key() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    held boolean;
BEGIN
    IF TG_TABLE_NAME = 'entries' THEN
        held := EXISTS (SELECT 1 FROM entry_field_sources WHERE entry_id = OLD.id);
    ELSE
        held := EXISTS (SELECT 1 FROM entry_field_sources WHERE user_id = OLD.id);
    END IF;
    IF held THEN
        RAISE EXCEPTION 'update on table "%" violates foreign key constraint on table "entry_field_sources"', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$;
"""

TRIGGERS = (
    "CREATE TRIGGER entry_field_sources_key AFTER INSERT ON entry_field_sources"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION public.atlas_field_sources_key()",
    "CREATE TRIGGER entry_field_sources_key_update AFTER UPDATE ON entry_field_sources"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION public.atlas_field_sources_key()",
    "CREATE TRIGGER entries_field_sources_delete AFTER DELETE ON entries"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION public.atlas_field_sources_of_entries()",
    "CREATE TRIGGER users_field_sources_delete AFTER DELETE ON users"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION public.atlas_field_sources_of_users()",
    "CREATE TRIGGER entries_field_sources_truncate AFTER TRUNCATE ON entries"
    " FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_field_sources_of_truncate()",
    "CREATE TRIGGER users_field_sources_truncate AFTER TRUNCATE ON users"
    " FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_field_sources_of_truncate()",
    # Ids never change; the row trigger fires only for an UPDATE that sets id to another.
    "CREATE TRIGGER entries_field_sources_key AFTER UPDATE OF id ON entries FOR EACH ROW"
    " WHEN (OLD.id IS DISTINCT FROM NEW.id)"
    " EXECUTE FUNCTION public.atlas_field_sources_held_key()",
    "CREATE TRIGGER users_field_sources_key AFTER UPDATE OF id ON users FOR EACH ROW"
    " WHEN (OLD.id IS DISTINCT FROM NEW.id)"
    " EXECUTE FUNCTION public.atlas_field_sources_held_key()",
)


def upgrade() -> None:
    op.drop_constraint("fk_entry_field_sources_entry_id_entries", "entry_field_sources",
                       type_="foreignkey")
    op.drop_constraint("fk_entry_field_sources_user_id_users", "entry_field_sources",
                       type_="foreignkey")
    op.execute(FUNCTIONS)
    for trigger in TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    for trigger in TRIGGERS:
        name, table = trigger.split()[2], trigger.split(" ON ")[1].split()[0]
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for function in ("atlas_field_sources_key", "atlas_field_sources_of_entries",
                     "atlas_field_sources_of_users", "atlas_field_sources_of_truncate",
                     "atlas_field_sources_held_key"):
        op.execute(f"DROP FUNCTION public.{function}()")
    op.create_foreign_key("fk_entry_field_sources_entry_id_entries", "entry_field_sources",
                          "entries", ["entry_id"], ["id"], ondelete="CASCADE")
    op.create_foreign_key("fk_entry_field_sources_user_id_users", "entry_field_sources",
                          "users", ["user_id"], ["id"], ondelete="SET NULL")
