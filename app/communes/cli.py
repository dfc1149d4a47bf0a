"""`flask communes load` (the official list into its table) and `flask communes fill`
(the INSEE code of existing entries)."""

from __future__ import annotations

import uuid
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db

communes_cli = AppGroup("communes", help="The communes of France and entries' INSEE codes.")

BATCH = 500


@communes_cli.command("load")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The package's tarball (.tgz), its data/communes.json, or an extract "
                   "such as data/communes/communes-59-62-extract.json; default: the pinned "
                   "version from the npm registry.")
@click.option("--url", envvar="ATLAS_COMMUNES_URL", default=None,
              help="The tarball's address (env ATLAS_COMMUNES_URL; default: the npm "
                   "registry's, for the pinned version).")
@click.option("--integrity", envvar="ATLAS_COMMUNES_INTEGRITY", default=None,
              help="The tarball's expected sha512-… (env ATLAS_COMMUNES_INTEGRITY; default: "
                   "the pinned version's; 'none' to skip the check).")
def load_command(path: Path | None, url: str | None, integrity: str | None) -> None:
    """Load (or replace) the communes of France, recording where they came from."""
    from .package import INTEGRITY, TARBALL_URL, CommunesError, download, load, read_file

    try:
        if path is not None:
            commune_list = read_file(path)
        else:
            expected = None if integrity == "none" else (
                integrity or (INTEGRITY if url in (None, TARBALL_URL) else None))
            commune_list = download(url or TARBALL_URL, expected)
        record = load(commune_list)
    except (CommunesError, OSError) as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc} — nothing was loaded.") from None
    db.session.commit()
    click.echo(f"Loaded {record.count} communes, version {record.version}, from "
               f"{record.origin} ({record.integrity or 'no checksum'}).")


@communes_cli.command("fill")
@click.option("--reverse", is_flag=True,
              help="Entries whose address gives no code but that have a position: ask the "
                   "address service's reverse look-up (ATLAS_GEOCODER_URL).")
@click.option("--dry-run", is_flag=True, help="Report what would be filled; write nothing.")
def fill_command(reverse: bool, dry_run: bool) -> None:
    """Give every entry with an address and no INSEE code its code; report the rest."""
    from ..models import Entry
    from ..services.entries import save_entry
    from ..services.revisions import Author
    from .fill import lookup
    from .index import commune_index

    index = commune_index()
    if not len(index):
        raise click.ClickException("No list of communes is loaded: run `flask communes "
                                   "load` first.")
    author = Author(label="communes")
    candidates = db.session.execute(
        select(Entry.id, Entry.slug, Entry.postcode, Entry.city,
               func.ST_X(Entry.geom), func.ST_Y(Entry.geom))
        .where(Entry.deleted_at.is_(None), Entry.insee_code.is_(None))
        .order_by(Entry.slug)).all()
    codes: dict[uuid.UUID, str] = {}
    problems, service = [], None
    for entry_id, slug, postcode, city, lon, lat in candidates:
        if not (postcode or city) and not (reverse and lon is not None):
            continue
        match = lookup({"postcode": postcode, "city": city}, index)
        code, why = match.code, match.reason
        if code is None and reverse and lon is not None:
            from ..geocoding.cache import service as address_service

            service = service or address_service()
            outcome = service.reverse(lon, lat)
            citycode = (outcome.answer or {}).get("citycode")
            if citycode in index.names:
                code = citycode
            else:
                why = f"{why}; reverse look-up: {outcome.status}"
        if code is None:
            problems.append((slug, match.status, why))
        else:
            codes[entry_id] = code
    filled = len(codes)
    ids = list(codes)
    for start in range(0, 0 if dry_run else len(ids), BATCH):
        # A batch's entries with what a write reads of them, in a few queries.
        batch = db.session.scalars(
            select(Entry).where(Entry.id.in_(ids[start:start + BATCH]))
            .options(selectinload(Entry.relations_out), selectinload(Entry.tags),
                     selectinload(Entry.sources))).all()
        for entry in batch:
            save_entry(entry, {"insee_code": codes[entry.id]}, author=author,
                       expected_version=None, comment="INSEE code from the address",
                       commit=False, savepoint=False)
        db.session.commit()
    verb = "would be filled" if dry_run else "filled"
    click.echo(f"INSEE codes {verb}: {filled}; left without: {len(problems)}.")
    for slug, status, why in problems:
        click.echo(f"  {slug}: {status}: {why}")
    current_app.logger.info("communes fill: %s filled, %s left", filled, len(problems))
