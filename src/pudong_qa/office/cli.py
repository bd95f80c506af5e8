"""The ``pudong-qa`` commands for serving an office: ``users``, ``keys``, ``audit`` and ``mcp``.

Users, keys and the audit log are files in the data folder (``PUDONG_QA_DATA_DIR``, default
``<root>/data``); a running server sees changes to them at its next request. Passwords are read
from a prompt (or one line of standard input with ``--password-stdin``), never from the command
line, where other users of the machine could see them.
"""

from __future__ import annotations

import sys

import click

from ..cli_common import CLIError, cli_language, friendly_errors, settings_from
from ..errors import PudongQAError
from .auth import ROLES

ENV_DATA = "[data folder: env PUDONG_QA_DATA_DIR, default ./data]"


def _fail(exc: Exception):
    return CLIError(exc.say(cli_language()) if isinstance(exc, PudongQAError) else str(exc))


def _password(password_stdin: bool, prompt: str = "Password") -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


def _audit(ctx: click.Context, action: str, target: str, **detail) -> None:
    from .audit import AuditLog

    AuditLog.for_data_dir(settings_from(ctx).data_dir).record("cli", action, target=target, **detail)


def _change(ctx: click.Context, do, action: str, name: str, said: str | None = None, **detail):
    """Make a change to the users or keys (``do()``), record it in the audit log and say it on
    stderr; a problem is one line and exit status 2. Returns what ``do`` returned."""
    try:
        result = do()
    except PudongQAError as exc:
        raise _fail(exc) from exc
    _audit(ctx, action, name, **detail)
    if said:
        click.echo(said, err=True)
    return result


@click.group(help=f"Who may sign in to the served page and API, with a role (reader or editor). {ENV_DATA}")
def users() -> None:
    pass


def _store(ctx: click.Context, kind: str = "users"):
    """The data folder's user store, or its key store (``kind="keys"``)."""
    from .keys import KeyStore
    from .users import UserStore

    return (KeyStore if kind == "keys" else UserStore).for_data_dir(settings_from(ctx).data_dir)


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="reader",
              help="reader: ask, batch, source view, feedback; editor: also add/remove documents and rebuild.")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of standard input.")
@click.pass_context
def users_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add user NAME (asks for the password; at least 8 characters, stored as an argon2id hash)."""
    _change(ctx, lambda: _store(ctx).add(name, _password(password_stdin), role), "user-add", name,
            f"Added {role} {name}.", role=role)


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List the users and their roles."""
    for u in _store(ctx).list():
        click.echo(f"{u['name']}\t{u['role']}\t{u['created']}")


@users.command("remove")
@click.argument("name")
@click.pass_context
def users_remove(ctx: click.Context, name: str) -> None:
    """Remove user NAME (signed out of a running server at once)."""
    _change(ctx, lambda: _store(ctx).remove(name), "user-remove", name, f"Removed {name}.")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from one line of standard input.")
@click.pass_context
def users_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for user NAME."""
    _change(ctx, lambda: _store(ctx).passwd(name, _password(password_stdin, "New password")), "user-passwd", name,
            f"Changed the password of {name}.")


@click.group(help="API keys for programs (Dify, FastGPT, scripts): send them as 'Authorization: Bearer KEY'. "
             f"{ENV_DATA}")
def keys() -> None:
    pass


@keys.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="reader", help="What the key may do (as for users).")
@click.option("--rate", type=click.FloatRange(min=0), default=None,
              help="Requests per second this key may make (bursts of twice that; 0: no limit). "
                   "[default: 10, env PUDONG_QA_KEY_RATE]")
@click.pass_context
def keys_add(ctx: click.Context, name: str, role: str, rate: float | None) -> None:
    """Make key NAME and print it (only now: it is stored as a SHA-256 hash)."""
    token = _change(ctx, lambda: _store(ctx, "keys").add(name, role, rate), "key-add", name, role=role)
    click.echo(token)
    click.echo(f"Made {role} key {name}: shown once, keep it now.", err=True)


@keys.command("list")
@click.pass_context
def keys_list(ctx: click.Context) -> None:
    """List the keys: name, role, rate limit, first characters, when made."""
    settings = settings_from(ctx)
    for k in _store(ctx, "keys").list():
        rate = k["rate"] if k["rate"] is not None else f"{settings.key_rate:g} (default)"
        click.echo(f"{k['name']}\t{k['role']}\t{rate}/s\t{k['prefix']}…\t{k['created']}")


@keys.command("revoke")
@click.argument("name")
@click.pass_context
def keys_revoke(ctx: click.Context, name: str) -> None:
    """Revoke key NAME (refused by a running server from its next request)."""
    _change(ctx, lambda: _store(ctx, "keys").revoke(name), "key-revoke", name, f"Revoked {name}.")


@click.command()
@click.option("--last", type=click.IntRange(min=1), default=None, help="Only the last N entries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, as stored.")
@click.pass_context
def audit(ctx: click.Context, last: int | None, as_json: bool) -> None:
    """Print the audit log: who added, removed or rebuilt what and when, batches, refusals, users and keys.

    Stored in <data folder>/audit.jsonl (env PUDONG_QA_DATA_DIR, default ./data)."""
    import json

    from .audit import AuditLog, format_entry

    for entry in AuditLog.for_data_dir(settings_from(ctx).data_dir).read(last):
        click.echo(json.dumps(entry, ensure_ascii=False) if as_json else format_entry(entry))


@click.command()
@click.option("--kb", "kb_specs", multiple=True, metavar="NAME=CORPUS_DIR[:INDEX_DIR]",
              help="Serve these folders as knowledge bases (repeatable) instead of the one corpus. "
                   "[env PUDONG_QA_KNOWLEDGE_BASES, comma-separated]")
@click.pass_context
def mcp(ctx: click.Context, kb_specs: tuple[str, ...]) -> None:
    """An MCP server on standard input/output, for agent tools: tools ask, ask_many, list_documents
    and list_knowledge_bases (the same answers as the API). Local use; no sign-in."""
    from .mcp import run_stdio

    settings = settings_from(ctx)
    with friendly_errors():
        run_stdio(settings, kb_specs)


def office_commands() -> list[click.Command]:
    return [users, keys, audit, mcp]
