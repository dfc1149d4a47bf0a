"""`flask export FORMAT [--kind …] [--tag …] [-o FILE] [--report FILE]`."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import IO

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.datastructures import MultiDict

from ..formats.csv_cells import NOTE as CSV_NOTE
from ..formats.csv_cells import escape_row
from ..query import ParameterError, parse_filter, unknown_tags
from . import FORMATS, ExportJob, Refusal
from .meta import export_meta
from .stream import snapshot


def site_url(given: str | None = None) -> str:
    return (given or current_app.config.get("BASE_URL")
            or f"http://127.0.0.1:{current_app.config.get('PORT', 5000)}")


class ReportWriter:
    """Refused entries and notes: CSV lines in a file, or plain lines on stderr."""

    def __init__(self, path: Path | None) -> None:
        self.handle: IO[str] | None = None
        self.writer = None
        if path is not None:
            self.handle = path.open("w", newline="", encoding="utf-8")
            self.writer = csv.writer(self.handle, lineterminator="\r\n")
            self.writer.writerow(["kind", "id", "slug", "name", "reasons"])

    def __call__(self, refusal: Refusal) -> None:
        if self.writer is not None:
            self.writer.writerow(escape_row([refusal.kind, refusal.id, refusal.slug,
                                             refusal.name, "; ".join(refusal.reasons)]))
        else:
            click.echo(refusal.line(), err=True)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


@click.command("export")
@click.argument("format_name", metavar="FORMAT", type=click.Choice(sorted(FORMATS)))
@click.option("--kind", "kinds", multiple=True, help="Only this kind (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only entries with this tag (repeatable).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE (default: standard output).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write refused entries and notes to FILE (CSV) instead of stderr.")
@click.option("--base-url", default=None,
              help="The site's public address, for links and JSON-LD ids "
                   "(default: ATLAS_BASE_URL).")
@with_appcontext
def export_command(format_name: str, kinds: tuple[str, ...], tags: tuple[str, ...],
                   output: Path | None, report_path: Path | None,
                   base_url: str | None) -> None:
    """Export the public entries as FORMAT: csv, geojson, jsonld, datapackage (zip),
    mednum (lieux de médiation numérique v1.0.2), gogocarto or datainclusion
    (data·inclusion structures).

    Streamed: memory stays flat whatever the size of the base. The licence and the
    sources are named in the export and on stderr; with mednum, gogocarto and datainclusion,
    entries the format cannot hold are reported with the reason.
    """
    export = FORMATS[format_name]
    if output is None and export.path.endswith(".zip") and sys.stdout.isatty():
        raise click.UsageError(f"{format_name} is a zip file: give -o FILE (or redirect the "
                               "output).")
    args = MultiDict([("kind", k) for k in kinds] + [("tag", t) for t in tags])
    try:
        entry_filter = parse_filter(args, tag_exists=unknown_tags)
    except ParameterError as exc:
        raise click.BadParameter(exc.message, param_hint=f"--{exc.parameter}") from None
    report = ReportWriter(report_path)
    job = ExportJob(filter=entry_filter, filters={"kind": list(kinds), "tag": list(tags)},
                    base_url=site_url(base_url),
                    on_refusal=report)
    try:
        if output is None:
            for chunk in export.write(job):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        else:
            _write_file(output, export.write(job))
    finally:
        report.close()
    with snapshot() as conn:
        meta = export_meta(conn, entry_filter)
    where = output or "standard output"
    click.echo(f"{format_name}: {job.written} entries written to {where}.", err=True)
    click.echo(f"Licence: {meta.licence} ({meta.licence_title}). Attribution: "
               f"{meta.attribution}", err=True)
    sources = ", ".join(f"{s.origin} ({s.entries})" for s in meta.sources) or "none"
    click.echo(f"Sources: {sources}.", err=True)
    if export.media_type.startswith("text/csv") or export.path.endswith(".zip"):
        click.echo(f"Formulas: {CSV_NOTE}", err=True)
    if export.refuses:
        where_report = report_path or "the lines above"
        click.echo(f"{job.refused} entries refused, {job.noted} written with a note: see "
                   f"{where_report}.", err=True)


def _write_file(path: Path, chunks) -> None:
    """Write through a temporary file renamed at the end: a failed export leaves no half file."""
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
