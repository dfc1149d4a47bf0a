"""The Flask commands, run as a user would run them: in a subprocess (the account
lifecycle's many commands run in this process, through the same Click commands)."""

import re

from sqlalchemy import select, text

from app.config import PROJECT_ROOT
from app.extensions import db
from app.models import User
from app.services.users import verify_password
from tests.conftest import make_app
from tests.support.processes import cli, flask, free_port

ROOT = PROJECT_ROOT


def test_users_create_hashes_the_password_with_argon2(app, database_url):
    result = flask("users", "create", "--email", "Editor@Example.org", "--role", "editor",
                   "--password-stdin", url=database_url, stdin="correct horse battery\n")
    assert result.returncode == 0, result.stderr
    assert "Created editor Editor@Example.org" in result.stdout
    with app.app_context():
        try:
            user = db.session.scalar(select(User).where(User.email == "Editor@Example.org"))
            assert user.role == "editor"
            assert user.password_hash.startswith("$argon2id$")
            assert "correct horse" not in user.password_hash
            assert verify_password(user, "correct horse battery")
            assert not verify_password(user, "wrong password!")

            again = flask("users", "create", "--email", "editor@example.org", "--role",
                          "admin", "--password-stdin", url=database_url,
                          stdin="another long one\n")
            assert again.returncode != 0
            assert "already exists" in again.stderr
        finally:
            db.session.execute(User.__table__.delete().where(
                User.email == "Editor@Example.org"))
            db.session.commit()


def test_users_create_refuses_a_short_password(database_url):
    result = flask("users", "create", "--email", "x@example.org", "--role", "admin",
                   "--password-stdin", url=database_url, stdin="short\n")
    assert result.returncode != 0
    assert "password: At least 10 characters" in result.stderr


def test_db_upgrade_with_an_unreachable_server_says_what_to_do():
    port = free_port()
    result = flask("db", "upgrade", url=f"postgresql://atlas:pw@127.0.0.1:{port}/atlas")
    assert result.returncode != 0
    assert f"Cannot connect to PostgreSQL at 127.0.0.1:{port}/atlas" in result.stderr
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_commands_load_flask_migrate_when_used(databases):
    """`db` is listed with Flask-Migrate's own help before Flask-Migrate is imported, and
    runs its commands on an app whose migration extension was never used (app/migrate.py)."""
    from flask_migrate.cli import db as flask_migrate_db

    from app.migrate import DB_GROUP_HELP

    assert flask_migrate_db.help == DB_GROUP_HELP
    fresh = make_app(databases.migrated("cli_db"))
    assert re.search(r"^  db +Perform database migrations\.$", cli(fresh, "--help").stdout,
                     re.MULTILINE)
    assert "upgrade " in cli(fresh, "db", "--help").stdout  # Flask-Migrate's subcommands

    def revision() -> str:
        with fresh.app_context():
            found = db.session.scalar(text("SELECT version_num FROM alembic_version"))
            db.session.remove()
            db.engine.dispose()
        return found

    head = revision()
    down = cli(fresh, "db", "downgrade")  # by one revision
    assert down.returncode == 0, down.stderr
    assert revision() not in (head, None)
    up = cli(fresh, "db", "upgrade")
    assert up.returncode == 0, up.stderr
    assert revision() == head


def test_demo_load_from_the_command_line_is_idempotent(database_url):
    result = flask("demo", "load", url=database_url)
    assert result.returncode == 0, result.stderr
    assert "entries unchanged:" in result.stdout
    assert "entries created" not in result.stdout


def test_account_lifecycle_and_tokens(app):
    from app.services.tokens import user_for_token

    email = "platform@example.org"
    try:
        assert cli(app, "users", "create", "--email", email, "--role", "contributor",
                   "--password-stdin", stdin="first password 123\n").returncode == 0
        result = cli(app, "users", "set-role", "--email", email, "--role", "editor")
        assert result.returncode == 0 and "is now editor" in result.stdout
        result = cli(app, "users", "reset-password", "--email", email, "--password-stdin",
                     stdin="second password 456\n")
        assert result.returncode == 0, result.stderr

        created = cli(app, "tokens", "create", "--email", email, "--name", "GoGoCarto Lille")
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip()
        assert token.startswith("atl_") and len(token) > 40
        listing = cli(app, "tokens", "list").stdout
        assert "GoGoCarto Lille" in listing and token not in listing
        with app.app_context():
            user = db.session.scalar(select(User).where(User.email == email))
            assert user.role == "editor"
            assert verify_password(user, "second password 456")
            assert not verify_password(user, "first password 123")
            assert user_for_token(token).email == email
            assert user_for_token(token[:-1] + ("x" if token[-1] != "x" else "y")) is None
            assert token not in {t.token_hash for t in user.tokens}
            db.session.remove()

        assert cli(app, "users", "deactivate", "--email", email).returncode == 0
        with app.app_context():
            assert user_for_token(token) is None  # a deactivated account's tokens stop
            db.session.remove()
        assert cli(app, "users", "deactivate", "--email", email, "--reactivate").returncode == 0
        token_id = next(line for line in listing.splitlines()
                        if "GoGoCarto Lille" in line).split("\t")[0]
        assert cli(app, "tokens", "revoke", token_id).returncode == 0
        with app.app_context():
            assert user_for_token(token) is None  # revoked
            db.session.remove()
        missing = cli(app, "users", "set-role", "--email", "nobody@example.org", "--role",
                      "admin")
        assert missing.returncode != 0 and "No account" in missing.stderr
    finally:
        with app.app_context():
            db.session.execute(User.__table__.delete().where(User.email == email))
            db.session.commit()
