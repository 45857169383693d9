"""Alembic environment: runs on the connection handed in by commerce.db (sync side of async)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from commerce.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Fallback for the alembic CLI (e.g. autogenerate): a sync URL in sqlalchemy.url.
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run()
