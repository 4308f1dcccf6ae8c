"""Dev secrets: generated on first run into a file outside git, overridable by the environment.

Production sets SWITCHBOARD_BACKEND_SECRET itself; a developer never has to think of one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from switchboard.bridge.envfile import parse_env_file
from switchboard.router.settings import ENV_BACKEND_SECRET, ENV_BRIDGE_SECRET, ENV_TICKET_SECRET

#: Every secret the node needs: the backend role's WAMP-CRA secret (Crossbar's config reads it as
#: ${NAME}), the HTTP bridge's signing secret and the browser tickets' signing secret.
SECRET_NAMES = (ENV_BACKEND_SECRET, ENV_BRIDGE_SECRET, ENV_TICKET_SECRET)


def ensure_secrets(path: Path, env: dict | None = None) -> tuple[dict[str, str], bool]:
    """Return the secrets to run with and whether the file was (re)written.

    Values already in the environment win; missing ones come from `path`, and any still missing are
    generated and appended to `path` (mode 0600) so the next run reuses them.
    """
    env = os.environ if env is None else env
    stored = parse_env_file(path.read_text(encoding="utf-8")) if path.exists() else {}
    result, created = {}, {}
    for name in SECRET_NAMES:
        if env.get(name):
            result[name] = env[name]
        elif stored.get(name):
            result[name] = stored[name]
        else:
            result[name] = created[name] = secrets.token_urlsafe(32)
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            if not stored:
                f.write("# Switchboard dev secrets, generated on first run. Not for production; keep out of git.\n")
            for name, value in created.items():
                f.write(f"{name}={value}\n")
    return result, bool(created)
