"""Alembic's entry point: runs the revisions on the service database (the URL given by the caller, else
CS_DATABASE_URL, else var/service.db), one process at a time (migrations/__init__.py)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

import migrations
from agents import schema
from core import store
from review import schema as review_schema

config = context.config
if config.config_file_name:  # the `alembic` command (alembic.ini); never inside a server
    fileConfig(config.config_file_name, disable_existing_loggers=False)

url = config.attributes.get("url") or store.database_url()
sqlite = url.startswith("sqlite")
# What `alembic revision --autogenerate` and tests/test_migrations.py compare the database with.
target_metadata = [store.metadata, schema.metadata, review_schema.metadata]

if context.is_offline_mode():  # `alembic upgrade --sql`: the statements, for a DBA to run
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=sqlite)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = migrations.migration_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                # SQLite alters a table by copying it: revisions use op.batch_alter_table for it.
                render_as_batch=sqlite,
                transactional_ddl=True,
            )
            with context.begin_transaction():
                migrations.lock(connection)
                context.run_migrations()
    finally:
        engine.dispose()
