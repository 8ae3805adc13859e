"""Alembic environment: obscat's models are the target; the URL is obscat's."""

from alembic import context

from obscat.store.engine import create_engine, write_transaction
from obscat.store.models import Base
from obscat.store.schema import model_objects

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=model_objects(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run on the connection obscat injected, or, for the `alembic` command, in a write
    transaction to obscat's URL taken as `obscat db` takes it: ``bulk`` turns SQLite's
    foreign keys off, so a table a revision rebuilds keeps the rows that refer to it."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or None)
    try:
        with write_transaction(engine, bulk=True) as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("obscat migrations run online only: use `obscat db upgrade`")
run_migrations_online()
