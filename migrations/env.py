"""Alembic environment: the URL from the settings, the metadata from the SQLModel tables."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import ville.models  # noqa: F401  (registers the tables)
from ville.db import make_engine
from ville.settings import get_settings

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    """Run migrations on the configured database (or the connection handed in by tests)."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
