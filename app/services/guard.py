"""One savepoint per write, and the database's refusals turned into errors a writer can use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from .errors import ConflictError, WriteValidationError
from .revisions import Author, record_revision


@contextmanager
def guarded_write(entity: str, obj: Any, expected_version: int | None,
                  on_integrity: Callable[[IntegrityError], WriteValidationError],
                  savepoint: bool = True) -> Iterator[None]:
    """Run a write in a savepoint: on failure only this write is undone.

    A concurrent writer that committed first makes the versioned UPDATE match no
    row (StaleDataError): that becomes a ConflictError with the current version.
    Without a savepoint (a bulk writer whose whole transaction fails as one), the
    database's refusals are left as they are: the transaction is lost with them.
    """
    if not savepoint:
        yield
        return
    try:
        with db.session.begin_nested():
            yield
    except StaleDataError:
        raise ConflictError(entity, obj.id, expected_version, _current_version(obj)) from None
    except IntegrityError as exc:
        raise on_integrity(exc) from None


def set_tombstone(entity: str, obj: Any, when: datetime | None, action: str, *,
                  expected_version: int | None, author: Author, comment: str | None,
                  snapshot: Callable[[Any], dict[str, Any]],
                  on_integrity: Callable[[IntegrityError], WriteValidationError],
                  commit: bool) -> Any:
    """Delete (`when` set) or restore (`when` None) an entry or a sheet, as a revision.

    A tombstone, never a DELETE: mirrors must learn of it and an admin may restore it.
    Setting the state it already has writes nothing.
    """
    if expected_version is not None and obj.version != expected_version:
        raise ConflictError(entity, obj.id, expected_version, obj.version)
    if (obj.deleted_at is None) == (when is None):
        return obj
    with guarded_write(entity, obj, expected_version, on_integrity):
        obj.deleted_at = when
        obj.updated_at = datetime.now(UTC)
        db.session.flush()
        record_revision(entity, obj.id, obj.version, action, snapshot(obj), author, comment)
        db.session.flush()
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return obj


def _current_version(obj: Any) -> int | None:
    try:
        db.session.refresh(obj)
    except InvalidRequestError:
        return None
    return obj.version
