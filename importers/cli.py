"""`flask import osm …` and `flask import csv …`: progress bar, dry run, report."""

from __future__ import annotations

import codecs
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask.cli import AppGroup

from .geo import Territory

if TYPE_CHECKING:
    from tqdm import tqdm

import_cli = AppGroup("import", help="Import OpenStreetMap data and CSV files.")

_common_options = [
    click.option("--dry-run", is_flag=True,
                 help="Validate and report everything; write nothing (rolled back)."),
    click.option("--full", is_flag=True,
                 help="The input is the whole source: report the records it no longer has."),
    click.option("--close-missing", is_flag=True,
                 help="With --full: mark the records no longer in the source as closed."),
    click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
                 help="Write the report to FILE (.json or .csv)."),
    click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1)),
    click.option("--reader", type=click.Choice(["auto", "process", "thread"]), default="auto",
                 show_default=True,
                 help="Where a file is read and validated while the import writes: a child "
                      "process (auto: for files from 1 MiB on) or a thread."),
    click.option("--progress/--no-progress", default=None,
                 help="Show a progress bar (default: when stderr is a terminal)."),
    click.option("--anywhere", is_flag=True,
                 help="Import objects outside the territory too (ATLAS_TERRITORY; by "
                      "default they are reported and left out)."),
]


def _bar(**kwargs: Any) -> tqdm:
    """A progress bar on stderr, without tqdm's monitor thread: with one thread only,
    the reading process starts as a fork (importers.reader_process). tqdm is imported
    here, not at every start of the app (test_modes)."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0
    return tqdm(file=sys.stderr, dynamic_ncols=True, **kwargs)


def common_options(func: Any) -> Any:
    for option in reversed(_common_options):
        func = option(func)
    return func


@import_cli.command("osm")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False,
                                                        path_type=Path))
@click.option("--overpass", is_flag=True, help="Fetch from the Overpass API instead of a file.")
@click.option("--area", envvar="ATLAS_IMPORT_AREA", default=None,
              help="min_lon,min_lat,max_lon,max_lat (default: the mapping's territory, "
                   "else the instance's, ATLAS_TERRITORY_BBOX).")
@click.option("--endpoint", envvar="ATLAS_OVERPASS_URL", default=None,
              help="Overpass interpreter URL (env ATLAS_OVERPASS_URL).")
@click.option("--timeout", default=180, show_default=True, type=click.IntRange(1),
              help="Seconds Overpass may take.")
@click.option("--retries", default=3, show_default=True, type=click.IntRange(0))
@click.option("--save-answer", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep the Overpass answer in FILE.")
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False,
                                                           path_type=Path),
              help="Mapping file (default: data/mappings/osm.toml).")
@common_options
def import_osm(path: Path | None, overpass: bool, area: str | None, endpoint: str | None,
               timeout: int, retries: int, save_answer: Path | None,
               mapping_file: Path | None, **options: Any) -> None:
    """Import an OSM file (.osm, .osm.gz, .osm.bz2, .osm.pbf, Overpass .json) or --overpass."""
    from .mapping import DEFAULT_OSM_MAPPING, MappingError, load_osm_mapping
    from .osm_files import check_path
    from .osm_overpass import (
        DEFAULT_ENDPOINT,
        OverpassError,
        build_query,
        default_area,
        fetch,
        read_overpass,
    )
    from .sources import OsmFile

    if overpass == (path is not None):
        raise click.UsageError("Give either a PATH or --overpass.")
    if path is not None:
        _warm_up(OsmFile(path, None), options)
    try:
        mapping = load_osm_mapping(mapping_file or DEFAULT_OSM_MAPPING)
        # The area: --area, else the mapping's territory, which is the instance's
        # (ATLAS_TERRITORY_BBOX) when the mapping names none.
        territory = (Territory.parse(area) if area
                     else mapping.territory or default_area())
    except (MappingError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None

    if overpass:
        url = endpoint or DEFAULT_ENDPOINT
        click.echo(f"Querying Overpass at {url} for {territory} …", err=True)
        try:
            answer = fetch(build_query(mapping, territory, timeout), url, timeout=timeout,
                           retries=retries)
            if save_answer:
                import json

                save_answer.write_text(json.dumps(answer), encoding="utf-8")
            items: Any = list(read_overpass(answer, mapping))
        except (OverpassError, OSError, ValueError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from None
        location, total = url, len(items)
    else:
        if not path.name.lower().endswith(".json"):
            try:
                check_path(path)
            except (OSError, ValueError) as exc:
                raise click.ClickException(str(exc)) from None
        # Read and validated while the pipeline writes (in a child process for a big
        # file); the count is known once the file is read.
        items, location, total = OsmFile(path, mapping), str(path), None
    bar = _bar(total=total, unit="obj", desc="osm", disable=_disabled(options["progress"]))
    _run(mapping, items, location, bar, options)


def _check_encoding(_ctx: Any, _param: Any, value: str | None) -> str | None:
    if value is not None:
        try:
            codecs.lookup(value)
        except LookupError:
            raise click.BadParameter(f"unknown encoding {value!r}") from None
    return value


@import_cli.command("csv")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", "mapping_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Mapping file (see data/mappings/csv/).")
@click.option("--encoding", callback=_check_encoding,
              help="The file's encoding (e.g. latin-1), when the detected one is wrong "
                   "(default: from its byte order mark, else UTF-8, else Windows-1252).")
@click.option("--geocode", is_flag=True,
              help="Rows with an address and no coordinates: ask the address service "
                   "(ATLAS_GEOCODER_URL) for their position; the score is kept.")
@common_options
def import_csv(path: Path, mapping_file: Path, encoding: str | None, geocode: bool,
               **options: Any) -> None:
    """Import a CSV file (delimiter and encoding detected) through a mapping file."""
    from .mapping import MappingError, load_csv_mapping
    from .sources import CsvFile

    _warm_up(CsvFile(path, None), options)
    try:
        mapping = load_csv_mapping(mapping_file)
    except MappingError as exc:
        raise click.ClickException(str(exc)) from None
    if geocode:
        _geocode(mapping, path, encoding)
    # Read and validated while the pipeline writes (in a child process for a big file).
    source = CsvFile(path, mapping, encoding)
    bar = _bar(total=source.total(), unit="B", unit_scale=True, desc=path.name,
               disable=_disabled(options["progress"]))
    _run(mapping, source, str(path), bar, options)


def _geocode(mapping: Any, path: Path, encoding: str | None) -> None:
    """The positions of the rows with an address only, before the run (importers.geocode)."""
    from app.extensions import db
    from app.geocoding.cache import service

    from .csv_reader import read_csv
    from .geocode import geocode

    address_service = service()
    counts = geocode(mapping, read_csv(path, mapping, encoding=encoding), address_service)
    db.session.commit()  # the answers' cache, whatever the import does
    click.echo(f"Geocoded through {address_service.base_url}: "
               + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(counts.items()))
               if counts else "Geocoding: no row without a position has an address.",
               err=True)


def _warm_up(source: Any, options: dict[str, Any]) -> None:
    """Start the reading process's server now, while the mapping loads, if it will be used."""
    from .reader_process import in_child, warm_up

    if in_child(source, options["reader"]):
        warm_up()


def _disabled(progress: bool | None) -> bool | None:
    return None if progress is None else not progress


def _run(mapping: Any, items: Iterable[Any], location: str, bar: tqdm,
         options: dict[str, Any]) -> None:
    from app.services.runs import lines, summary, write_report

    from .csv_reader import CsvFileError
    from .pipeline import ImportFailed, Pipeline, RunOptions

    mapping.anywhere = options["anywhere"]
    run_options = RunOptions(location=location, dry_run=options["dry_run"],
                             full=options["full"], close_missing=options["close_missing"],
                             batch_size=options["batch_size"], reader=options["reader"])
    if run_options.close_missing and not run_options.full:
        raise click.UsageError("--close-missing needs --full.")
    pipeline = Pipeline(mapping, run_options, progress=bar.update,
                        notify=lambda message: bar.write(message, file=sys.stderr))
    try:
        result = pipeline.run(items)
        if bar.total is None:  # known now: what was read
            bar.total = bar.n
            bar.refresh()
    except ImportFailed as exc:
        cause = exc.__cause__
        message = str(cause) if isinstance(cause, CsvFileError) else str(exc)
        if options["report_file"]:
            write_report(options["report_file"], pipeline.counts, pipeline.report, exc.run.id,
                         error=message)
        # One line (a multi-line database message is joined): a script's log keeps it
        # whole, and the run's `error` holds the message as it is.
        raise click.ClickException(
            f"{' '.join(message.split())} — the import was rolled back: nothing was "
            f"written (import run {exc.run.id}, status {exc.run.status}).") from None
    finally:
        bar.close()
    prefix = "Dry run (nothing written)" if run_options.dry_run else "Imported"
    if result.tags_created:
        verb = "to create" if run_options.dry_run else "created"
        click.echo(f"Tags {verb}: {', '.join(result.tags_created)}")
    click.echo(f"{prefix} {mapping.origin} from {location} — run {result.run.id}")
    click.echo(summary(result.counts))
    for line in lines(result.report):
        click.echo(line)
    if options["report_file"]:
        written = write_report(options["report_file"], result.counts, result.report,
                               result.run.id)
        click.echo(f"Report written to {written}")


@import_cli.command("dump")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Read and check everything; write nothing.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report to FILE (.json or .csv).")
def import_dump(path: Path, dry_run: bool, report_file: Path | None) -> None:
    """Restore one of our own exports: a data package (.zip or datapackage.json), the CSV
    or the GeoJSON export. Entries keep their ids; an existing id is left as it is."""
    from app.restore import DumpError, Restore, open_dump
    from app.services.runs import lines, summary, write_report

    try:
        result = Restore(open_dump(path), dry_run=dry_run).run()
    except (DumpError, OSError, ValueError) as exc:
        raise click.ClickException(f"{exc}\nNothing was restored.") from None
    if result.tags_created:
        click.echo(f"Tags created: {', '.join(result.tags_created)}")
    prefix = "Dry run (nothing written)" if dry_run else "Restored"
    click.echo(f"{prefix} {path} — run {result.run.id}")
    click.echo(summary(result.counts))
    for line in lines(result.report):
        click.echo(line)
    if report_file:
        written = write_report(report_file, result.counts, result.report, result.run.id)
        click.echo(f"Report written to {written}")
