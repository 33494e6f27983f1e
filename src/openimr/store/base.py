"""The declarative base every table of the store shares (one metadata, one Alembic history)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of all ORM tables."""

    metadata = MetaData(naming_convention=NAMING)


def utc_now() -> dt.datetime:
    """The current time, timezone-aware in UTC: the default of every "created/decided at" column."""
    return dt.datetime.now(dt.UTC)
