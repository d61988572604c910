"""``mdocument migrate MODULE [status|up|down]``: the migrations of a directory.

See :mod:`mdocument.migrations` for the format and the guarantees, and
:mod:`mdocument.cli_schema` for the exit codes shared by the schema commands.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from mdocument.cli_check import load_models
from mdocument.cli_schema import (
    DB_OPTION,
    EXIT_CODES_HELP,
    EXIT_DRIFT,
    TIMEOUT_OPTION,
    URI_OPTION,
    UsageError,
    check_uri,
    connected,
    run_command,
)
from mdocument.migrations import MigrationError, load_migrations, migrate, migration_status

if TYPE_CHECKING:
    from mdocument.registry import Registry

__all__ = ["migrate_command", "register"]


@click.command(
    "migrate",
    epilog='\b\nExample:\n  mdocument migrate myapp.models status --uri "$MONGODB_URI" --db app\n'
    '  mdocument migrate myapp.models up --uri "$MONGODB_URI" --db app --dir migrations\n'
    "\b\nA migration is a file migrations/0001_name.py defining\n"
    "  async def up(registry, session): ...\n"
    "  async def down(registry, session): ...   (optional)\n\n" + EXIT_CODES_HELP,
)
@click.argument("module")
@click.argument(
    "action", type=click.Choice(["status", "up", "down"]), default="status", required=False
)
@URI_OPTION
@DB_OPTION
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("migrations"),
    show_default=True,
    help="The directory of the migration files (NNNN_name.py).",
)
@click.option("--dry-run", is_flag=True, help="Print what would run; run nothing.")
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    help="At most this many migrations (default: all pending for up, one for down).",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for another process's migrations lock.",
)
@click.option(
    "--force-unlock",
    is_flag=True,
    help="Take over a stale lock (silent for --stale-minutes), left by a process that died.",
)
@click.option(
    "--stale-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="A lock silent for longer is stale.",
)
@TIMEOUT_OPTION
@click.pass_context
def migrate_command(
    ctx: click.Context,
    module: str,
    action: str,
    uri: str,
    db_name: str | None,
    directory: Path,
    dry_run: bool,
    steps: int | None,
    wait: float,
    force_unlock: bool,
    stale_minutes: float,
    timeout: float,
) -> None:
    """Show (status, the default), apply (up) or revert (down) the migrations of --dir.

    Each migration runs once, in a transaction where the server has them, and is recorded in
    the collection mdocument_migrations; a lock keeps two processes from running the same one.
    """
    check_uri(uri)
    models = load_models(module)
    try:
        migrations = load_migrations(directory)
    except MigrationError as exc:
        raise UsageError(str(exc)) from None

    async def work(registry: Registry) -> int:
        if action == "status":
            pending = False
            for state in await migration_status(registry, migrations):
                mark = "x" if state.applied else " "
                if state.applied:
                    when = (
                        state.applied_at.strftime("%Y-%m-%d %H:%M:%S UTC")
                        if state.applied_at
                        else "?"
                    )
                    note = f"applied {when}"
                    note += "" if state.file else " (file missing)"
                    note += " (file changed since)" if state.changed else ""
                else:
                    pending, note = True, "pending"
                text = f"  {state.description}" if state.description else ""
                click.echo(f"[{mark}] {state.id}  {note}{text}")
            return EXIT_DRIFT if pending else 0
        direction: Literal["up", "down"] = "up" if action == "up" else "down"
        run = await migrate(
            registry,
            migrations,
            direction=direction,
            steps=steps,
            dry_run=dry_run,
            wait=wait,
            force_unlock=force_unlock,
            stale_after=datetime.timedelta(minutes=stale_minutes),
        )
        verb = "applied" if direction == "up" else "reverted"
        if dry_run:
            for migration_id in run.planned:
                click.echo(f"would be {verb}: {migration_id}")
        else:
            for migration_id in run.done:
                click.echo(f"{verb} {migration_id}")
        if not run.planned:
            click.echo(f"nothing to {'apply' if direction == 'up' else 'revert'}")
        return 0

    code = run_command(
        connected(
            uri=uri, db_name=db_name, timeout=timeout, models=models, must_exist=False, work=work
        )
    )
    ctx.exit(code)


def register(group: click.Group) -> None:
    """Add ``migrate`` to the ``mdocument`` command group."""
    group.add_command(migrate_command)
