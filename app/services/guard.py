"""One savepoint per write, and the database's refusals turned into errors a writer can use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from .errors import ConflictError, WriteValidationError


@contextmanager
def guarded_write(entity: str, obj: Any, expected_version: int | None,
                  on_integrity: Callable[[IntegrityError], WriteValidationError]
                  ) -> Iterator[None]:
    """Run a write in a savepoint: on failure only this write is undone.

    A concurrent writer that committed first makes the versioned UPDATE match no
    row (StaleDataError): that becomes a ConflictError with the current version.
    """
    try:
        with db.session.begin_nested():
            yield
    except StaleDataError:
        raise ConflictError(entity, obj.id, expected_version, _current_version(obj)) from None
    except IntegrityError as exc:
        raise on_integrity(exc) from None


def _current_version(obj: Any) -> int | None:
    try:
        db.session.refresh(obj)
    except InvalidRequestError:
        return None
    return obj.version
