"""`flask sources add|list|test|run|pause|resume|set`: the registry from a terminal."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from ..extensions import db
from ..models.registered_source import SOURCE_KINDS
from ..services.runs import lines, summary

sources_cli = AppGroup("sources", help="The registry of sources: add, test, run, pause.")


def _found(name: str):
    from .registry import get_source

    source = get_source(name)
    if source is None:
        raise click.BadParameter(f"no source named {name!r} (see `flask sources list`)",
                                 param_hint="NAME")
    return source


def _settings(**given: object) -> dict[str, object]:
    return {k: v for k, v in given.items() if v is not None}


_setting_options = [
    click.option("--label", help="Its name for people (pages, provenance)."),
    click.option("--url", help="Its address (an Atlas or GoGoCarto base URL, an OpenFairDB "
                               "API base, an Overpass interpreter, a CSV or GeoJSON file)."),
    click.option("--mapping", help="A mapping file (csv and geojson: required; overpass: "
                                   "default data/mappings/osm.toml)."),
    click.option("--area", help="min_lon,min_lat,max_lon,max_lat (overpass, openfairdb, "
                                "gogocarto)."),
    click.option("--licence", help="The licence of its data."),
    click.option("--priority", type=int, help="Higher wins a disagreement (default 0)."),
    click.option("--every", "schedule_hours", type=click.IntRange(1),
                 help="Run every N hours (by the `sources` job)."),
    click.option("--credential", help="A token for its requests, sealed with the app's "
                                      "secret; or env:NAME, a variable that holds it."),
    click.option("--entry-kind", help="gogocarto, openfairdb: the kind of its records."),
    click.option("--limit", type=click.IntRange(1), help="At most this many records."),
]


def setting_options(func):
    for option in reversed(_setting_options):
        func = option(func)
    return func


@sources_cli.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(SOURCE_KINDS))
@setting_options
def add_command(name: str, kind: str, **given: object) -> None:
    """Register a source NAME of KIND."""
    from .registry import SourceError, add_source

    try:
        source = add_source({"name": name, "kind": kind, **_settings(**given)})
    except SourceError as exc:
        db.session.rollback()
        raise click.BadParameter(exc.message, param_hint=f"--{exc.field.replace('_', '-')}"
                                 if exc.field != "name" else "NAME") from None
    db.session.commit()
    click.echo(f"added {source.name} ({source.kind}, origin {source.origin}, "
               f"priority {source.priority})")


@sources_cli.command("set")
@click.argument("name")
@setting_options
def set_command(name: str, **given: object) -> None:
    """Change settings of source NAME (a priority change settles its entries again)."""
    from .registry import SourceError, change_source

    source = _found(name)
    try:
        changed = change_source(source, _settings(**given))
    except SourceError as exc:
        db.session.rollback()
        raise click.BadParameter(exc.message, param_hint=exc.field) from None
    db.session.commit()
    click.echo(f"{name}: " + (", ".join(changed) + " changed" if changed else "nothing changed"))


@sources_cli.command("list")
def list_command() -> None:
    """Every source, highest priority first (credentials are never shown)."""
    from .credentials import describe
    from .registry import all_sources

    for s in all_sources():
        state = "paused" if s.paused else (f"every {s.schedule_hours} h" if s.schedule_hours
                                           else "by hand")
        last = f"{s.last_run_at:%Y-%m-%d %H:%M}" if s.last_run_at else "never"
        click.echo(f"{s.name:<20} {s.kind:<10} priority {s.priority:<4} {state:<12} "
                   f"last run {last:<16} credential {describe(s.credential)}  {s.url}")


@sources_cli.command("test")
@click.argument("name")
def test_command(name: str) -> None:
    """Read a sample of source NAME and say what it holds; nothing is written."""
    from .run import sample_source

    report = sample_source(_found(name))
    click.echo(report.message)
    if report.message.startswith("failed"):
        sys.exit(1)


@sources_cli.command("run")
@click.argument("name", required=False)
@click.option("--due", is_flag=True, help="Every source whose schedule says it is due.")
@click.option("--dry-run", is_flag=True, help="Do everything, then roll it back.")
def run_command(name: str | None, due: bool, dry_run: bool) -> None:
    """Run source NAME through the import pipeline (or every due one)."""
    from .run import SourceRunFailed, run_due, run_source

    if due == bool(name):
        raise click.UsageError("give a NAME or --due")
    if due:
        failed = False
        for source_name, said, run_id in run_due():
            click.echo(f"{source_name}: {said} (run {run_id})")
            failed |= said.startswith("failed")
        sys.exit(1 if failed else 0)
    source = _found(name or "")
    if source.paused:
        raise click.UsageError(f"{name} is paused (flask sources resume {name})")
    try:
        result = run_source(source, dry_run=dry_run)
    except SourceRunFailed as exc:
        click.echo(f"failed, nothing written: {exc} (run {exc.run_id})", err=True)
        sys.exit(1)
    click.echo(f"{name}: {summary(result.counts)} (run {result.run.id})")
    for line in lines(result.report, 20):
        click.echo("  " + line)


@sources_cli.command("pause")
@click.argument("name")
def pause_command(name: str) -> None:
    """Stop scheduled runs of source NAME."""
    from .registry import set_paused

    set_paused(_found(name), True)
    db.session.commit()
    click.echo(f"{name} paused")


@sources_cli.command("resume")
@click.argument("name")
def resume_command(name: str) -> None:
    """Let source NAME run again."""
    from .registry import set_paused

    set_paused(_found(name), False)
    db.session.commit()
    click.echo(f"{name} resumed")
