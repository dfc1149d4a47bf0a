"""Alembic environment, run by Flask-Migrate's `flask db …` commands."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from geoalchemy2 import alembic_helpers
from sqlalchemy.exc import OperationalError

from app.dbcheck import DatabaseProblem, can_create_postgis, explain_connection_error

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name)

db = current_app.extensions["migrate"].db
target_metadata = db.metadata

# Objects the first migration creates by hand, which autogenerate cannot compare.
IGNORED_INDEXES = {"ix_entries_geog", "ix_entries_name_trgm", "uq_users_email_lower"}


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "index" and name in IGNORED_INDEXES:
        return False
    if type_ == "table" and name == "spatial_ref_sys":
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def run_migrations_offline() -> None:
    context.configure(url=str(db.engine.url), target_metadata=target_metadata,
                      literal_binds=True, include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = db.engine
    try:
        connection = engine.connect()
    except OperationalError as exc:
        raise SystemExit(f"error: {explain_connection_error(engine.url, exc)}") from None
    with connection:
        try:
            can_create_postgis(connection)
        except DatabaseProblem as exc:
            raise SystemExit(f"error: {exc}") from None
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
