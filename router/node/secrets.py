"""Dev secrets: generated on first run into a file outside git, overridable by the environment.

Production sets SWITCHBOARD_BACKEND_SECRET itself; a developer never has to think of one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from switchboard.bridge.envfile import parse_env_file
from switchboard.router.settings import (
    ENV_ADMIN_SECRET,
    ENV_BACKEND_SECRET,
    ENV_BRIDGE_SECRET,
    ENV_DIR,
    ENV_TICKET_SECRET,
)

#: Every secret the node needs: the backend role's WAMP-CRA secret (Crossbar's config reads it as
#: ${NAME}), the HTTP bridge's signing secret, the browser tickets' signing secret and the dashboard's
#: sign-in secret.
SECRET_NAMES = (ENV_BACKEND_SECRET, ENV_BRIDGE_SECRET, ENV_TICKET_SECRET, ENV_ADMIN_SECRET)


def ensure_secrets(path: Path, env: dict | None = None) -> tuple[dict[str, str], bool]:
    """Return the secrets to run with and whether the file was (re)written.

    Values already in the environment win; missing ones come from `path`, and any still missing are
    generated and appended to `path` (mode 0600) so the next run reuses them.
    """
    known = _known(path, os.environ if env is None else env)
    created = {name: secrets.token_urlsafe(32) for name, value in known.items() if not value}
    result = {**known, **created}
    fresh_file = not path.exists() or path.stat().st_size == 0
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            if fresh_file:
                f.write("# Switchboard dev secrets, generated on first run. Not for production; keep out of git.\n")
            for name, value in created.items():
                f.write(f"{name}={value}\n")
    return result, bool(created)


class SecretsMissing(LookupError):
    """A command needs the hub's secrets and neither the environment nor the secrets file has them."""


def read_secrets(path: Path, env: dict | None = None) -> dict[str, str]:
    """The secrets a running hub uses, as ensure_secrets() gave them to it, never writing: the
    environment first, then `path`; SecretsMissing names what is missing and where it was looked for."""
    result = _known(path, os.environ if env is None else env)
    missing = [name for name, value in result.items() if not value]
    if missing:
        where = f"{path} does not exist" if not path.exists() else f"{path} does not set them"
        raise SecretsMissing(
            f"no {', '.join(missing)}: {where} and the environment does not set them "
            f"(is this the hub's directory? give it with --dir or {ENV_DIR})"
        )
    return result


def _known(path: Path, env: dict) -> dict[str, str | None]:
    """Each secret from the environment if it sets it, else from the file at `path`, else None."""
    stored = parse_env_file(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {name: env.get(name) or stored.get(name) or None for name in SECRET_NAMES}
