"""Batches of candidates read and validated: pure Python, never the database.

This is the part of an import that can run away from the writer, in a thread or in a
child process (importers.reader_process): each batch becomes a Prepared, the
candidates cleaned by the entry schema (through app.services.entries.validate_entry,
the one definition of what an entry may be) and the problems to report.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from app import entry_fields
from app.models.vocab import LOCATED_KINDS
from app.services.entries import COORD_DIGITS, SourceRef, new_entry, validate_entry
from app.services.errors import WriteValidationError
from app.services.runs import Problem

from . import placing
from .mapping import BaseMapping
from .records import Candidate
from .sources import FileSource, Item, Notice

REQUIRED = ("kind", "name")
# The fields whose people's-input rule imports report without dropping the value.
STRICT_FIELDS = tuple(f for f in entry_fields.FIELDS if f.strict_check is not None)
# sources.external_id is a varchar(200): a longer key would make the database refuse
# the whole batch.
MAX_KEY_LENGTH = 200


@dataclass
class Prepared:
    """A batch once validated: the candidates to write and the problems to report.

    `advanced` is the progress the batch stands for (in the source's unit: rows,
    bytes, objects); `notices` what the reader had to say.
    """

    size: int
    advanced: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def read_batches(items: Iterable[Item] | FileSource, size: int
                 ) -> Iterator[tuple[list[Item], int]]:
    """Batches of `size` items, each with the progress made while reading it."""
    advanced = 0

    def advance(n: int) -> None:
        nonlocal advanced
        advanced += n

    source = items.read(advance) if isinstance(items, FileSource) else items
    for batch in batched(source, size):
        done = advanced if isinstance(items, FileSource) else len(batch)
        advanced = 0
        yield batch, done


def prepare_batch(items: list[Item], advanced: int, mapping: BaseMapping | None = None,
                  plan: bool = True) -> Prepared:
    """Validate a batch; a key seen twice in it is refused the second time.

    With the `mapping`, each candidate is placed (importers.placing: geocoded position,
    INSEE code, territory) and, with `plan`, also gets the rows that create it, rendered
    (`plan`: app.services.entries.new_entry), should it turn out to be new: work
    taken off the writer, which then only adds what the database knows.
    """
    prepared = Prepared(size=0, advanced=advanced)
    in_batch: dict[str, Candidate] = {}
    for item in items:
        if isinstance(item, Notice):
            prepared.notices.append(item.message)
            continue
        prepared.size += 1
        if isinstance(item, Problem):
            prepared.problems.append(item)
            continue
        prepared.problems.extend(item.notes)
        if not storable(item, prepared.problems):
            continue
        if mapping is not None:
            placing.before_validation(item, mapping, prepared.problems)
        if not validate_candidate(item, prepared.problems) or (
                mapping is not None and not placing.inside(item, mapping, prepared.problems)):
            continue
        if item.external_id in in_batch:
            prepared.problems.append(Problem(
                "rejected", f"the key {item.external_id!r} appears again (first at "
                f"{in_batch[item.external_id].label})", row=item.row,
                external_id=item.external_id))
            continue
        if mapping is not None and plan and not _plan(item, mapping, prepared.problems):
            continue
        in_batch[item.external_id] = item
        prepared.candidates.append(item)
    return prepared


def _plan(candidate: Candidate, mapping: BaseMapping, problems: list[Problem]) -> bool:
    try:
        candidate.plan = new_entry(candidate.clean, source_ref(mapping, candidate))
    except WriteValidationError as exc:
        name, messages = next(iter(exc.messages.items()))
        problems.append(Problem("rejected", message_text(messages), row=candidate.row,
                                external_id=candidate.external_id, field=name))
        return False
    candidate.clean = None  # in the plan now: not sent twice
    return True


def mapped(candidate: Candidate) -> dict[str, Any]:
    """The mapped values a source keeps, compared by the next import."""
    return {**candidate.data, **({"extra": candidate.extra} if candidate.extra else {})}


def source_ref(mapping: BaseMapping, candidate: Candidate) -> SourceRef:
    """The Source of a candidate: its raw cells or tags, its mapped values, its row."""
    attributes: dict[str, Any] = {"raw": candidate.raw, "mapped": mapped(candidate)}
    if candidate.row is not None:
        attributes["row"] = candidate.row
    return SourceRef(mapping.origin, candidate.external_id, attributes, mapping.licence)


def storable(candidate: Candidate, problems: list[Problem]) -> bool:
    """False (reported) for what the database itself would refuse, and with it the
    whole run: a key longer than the column, a NUL character (PostgreSQL's text and
    JSON cannot hold one)."""
    key = candidate.external_id
    if len(key) > MAX_KEY_LENGTH or "\x00" in key:
        reason = ("the key holds a NUL character (byte 0x00)" if "\x00" in key else
                  f"the key is {len(key)} characters long; at most {MAX_KEY_LENGTH} fit")
        problems.append(Problem("rejected", reason, row=candidate.row,
                                external_id=key[:MAX_KEY_LENGTH].replace("\x00", "\\0")))
        return False
    raw = candidate.raw
    try:  # one search in C for the common case: text values, no NUL
        clean = "\x00" not in "".join(raw) + "".join(filter(None, raw.values()))
    except TypeError:
        clean = False
    if clean:
        return True
    for name, value in raw.items():
        if "\x00" in name or (type(value) is str and "\x00" in value):
            problems.append(Problem("rejected", "a value holds a NUL character (byte 0x00), "
                                    "which the database cannot store", row=candidate.row,
                                    external_id=key, field=name.replace("\x00", "\\0")))
            return False
    return True


def validate_candidate(candidate: Candidate, problems: list[Problem]) -> bool:
    """Clean `candidate.data` with the entry schema; False (reported) if refused.

    An invalid optional field is dropped with a warning; an invalid name, kind or
    tag, or a third place without a position, rejects the record.
    """
    data = dict(candidate.data)
    for _attempt in range(3):
        try:
            clean = validate_entry(data, strict=False)
            break
        except WriteValidationError as exc:
            errors = exc.messages
            fatal = [f for f in errors if f in REQUIRED or f == "tags"
                     or (f in ("lon", "lat") and data.get("kind") in LOCATED_KINDS)]
            if fatal:
                name = fatal[0]
                problems.append(Problem("rejected", message_text(errors[name]),
                                        row=candidate.row,
                                        external_id=candidate.external_id, field=name))
                return False
            for name, message in errors.items():
                problems.append(Problem(
                    "warning", f"{message_text(message)} The value "
                    f"{str(data.get(name))[:80]!r} was left out.", row=candidate.row,
                    external_id=candidate.external_id, field=name))
                data.pop(name, None)
                if name in ("lon", "lat"):
                    data.pop("lon", None)
                    data.pop("lat", None)
    else:  # pragma: no cover - each attempt removes at least one field
        return False
    if clean.data.get("kind") in LOCATED_KINDS and clean.data.get("lon") is None:
        problems.append(Problem(
            "rejected", "A third place needs a position (lon and lat); this record has "
            "none.", row=candidate.row, external_id=candidate.external_id, field="lon"))
        return False
    report_kept_values(candidate, clean.data, problems)
    cleaned = {k: v for k, v in clean.data.items() if k in data}
    if cleaned.get("lon") is not None:
        cleaned["lon"] = round(cleaned["lon"], COORD_DIGITS)
        cleaned["lat"] = round(cleaned["lat"], COORD_DIGITS)
    cleaned["tags"] = sorted(set(cleaned.get("tags", [])))
    candidate.data = cleaned
    candidate.clean = clean
    return True


def report_kept_values(candidate: Candidate, data: dict[str, Any],
                       problems: list[Problem]) -> None:
    """A value people's input rules refuse (opening hours the parser cannot read) is kept
    as text, and said on the row: never dropped, never silent."""
    for field_spec in STRICT_FIELDS:
        value = data.get(field_spec.name)
        message = field_spec.strict_check(value) if isinstance(value, str) else None
        if message is not None:
            problems.append(Problem(
                "warning", f"{message} Kept as text: an editor should correct it.",
                row=candidate.row, external_id=candidate.external_id,
                field=field_spec.name))


def message_text(messages: Any) -> str:
    """marshmallow's messages (lists, nested dicts) as one line."""
    if isinstance(messages, list):
        return " ".join(message_text(m) for m in messages)
    if isinstance(messages, dict):
        return "; ".join(f"{k}: {message_text(v)}" for k, v in messages.items())
    return str(messages)


def batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """`items` in lists of `size` (the last one shorter), read as they come."""
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch

