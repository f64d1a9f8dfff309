"""Alembic environment: runs migrations against the URL newsrec passes in."""

from alembic import context
from sqlalchemy import pool

from newsrec.store.db import MIGRATION_WAIT_SECONDS, make_engine
from newsrec.store.models import Base

config = context.config
# serving workers may hold locks the migration needs: it waits for them longer than a request would
engine = make_engine(config.get_main_option("sqlalchemy.url") or "", MIGRATION_WAIT_SECONDS)
engine.pool = pool.NullPool(engine.pool._creator)  # one-off connection for the migration

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
