"""The communes of France (INSEE's official list) and the load each set came from.

Loaded by `flask communes load` from the npm package `@etalab/decoupage-administratif`
(app/communes/package.py); read by the INSEE code matcher (app/communes/index.py).
Every kind of the package is kept: current communes, and the arrondissements, delegated
and associated communes that name a part of one (`parent_code` is that commune).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class CommuneLoad(db.Model):
    """One load of the list: where it came from, which version, its checksum."""

    __tablename__ = "commune_loads"

    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(Text)  # a URL or a file name
    version: Mapped[str] = mapped_column(String(40))
    integrity: Mapped[str | None] = mapped_column(Text)  # "sha512-…" of the file read
    count: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())


class Commune(db.Model):
    __tablename__ = "communes"

    # A commune nouvelle and its delegated commune of the same name share a code.
    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    # commune-actuelle, arrondissement-municipal, commune-deleguee, commune-associee
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The current commune an arrondissement or a delegated/associated commune is part of.
    parent_code: Mapped[str | None] = mapped_column(String(5))
    department: Mapped[str] = mapped_column(String(3), index=True)
    region: Mapped[str | None] = mapped_column(String(3))
    postcodes: Mapped[list[str]] = mapped_column(ARRAY(String(5)), default=list,
                                                 server_default="{}")
    population: Mapped[int | None] = mapped_column(Integer)
    load_id: Mapped[int] = mapped_column(ForeignKey("commune_loads.id", ondelete="CASCADE"),
                                         index=True)
