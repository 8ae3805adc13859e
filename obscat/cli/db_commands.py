"""``obscat db``: schema migrations (Alembic) and the read-only PostgreSQL role."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["upgrade", "downgrade", "grant_readonly", "current", "history"]


def _alembic(ctx: typer.Context, action: str, revision: str) -> None:
    from ..store.schema import migrate

    migrate(ctx.obj.url, action, revision)


def upgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument(metavar="REVISION", help="Target revision.")] = "head") -> None:
    """Upgrade the database schema (default: to the newest revision)."""
    _alembic(ctx, "upgrade", revision)
    typer.echo(f"database upgraded to {revision}")


def downgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument(metavar="REVISION", help="Target revision, e.g. -1 or base.")]) -> None:
    """Downgrade the database schema."""
    _alembic(ctx, "downgrade", revision)
    typer.echo(f"database downgraded to {revision}")


def grant_readonly(ctx: typer.Context, role: Annotated[str, typer.Argument(metavar="ROLE", help="PostgreSQL role for analysts (created with LOGIN if missing).")]) -> None:
    """Let a PostgreSQL role read, and only read, the catalogue (tables, views, future tables)."""
    from ..store.config import resolve_url
    from ..store.engine import display_url
    from ..store.schema import grant_read_only

    created = grant_read_only(ctx.obj.url, role)
    typer.echo(f"{'created' if created else 'updated'} role {role!r}: read-only access to "
               f"{display_url(resolve_url(ctx.obj.url))}")  # fmt: skip


def current(ctx: typer.Context) -> None:
    """Show the database's schema revision."""
    from ..store.models import SCHEMA_REVISION
    from ..store.schema import current_revision

    revision, archives = current_revision(ctx.obj.url)
    state = "head" if revision == SCHEMA_REVISION else f"obscat's head is {SCHEMA_REVISION}"
    base = f"base ({len(archives)} archived tables: `obscat db upgrade` restores them)" if archives else "base (empty database)"
    typer.echo(f"{revision or base} ({state})")


def history(ctx: typer.Context) -> None:
    """List the schema revisions."""
    from alembic import command

    from ..store.schema import alembic_config

    command.history(alembic_config())
