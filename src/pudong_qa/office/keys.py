"""API keys for programs (Dify, FastGPT, RAGFlow, scripts): ``<data dir>/keys.json`` (owner-only
permissions), managed with ``pudong-qa keys add/list/revoke``. Each key has a name, a role and
optionally its own rate limit; the key itself is shown once, when it is made.

A key is ``pqa_`` and 43 random URL-safe characters (256 bits). The file keeps its SHA-256 and its
first eight characters (to tell keys apart in ``keys list``). A slow password hash would add
nothing here, since a 256-bit random key cannot be guessed, and would cost every API request
tens of milliseconds; passwords, which people choose, get argon2id (``users.py``).
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
from datetime import datetime, timezone
from pathlib import Path

from ..errors import PudongQAError
from .auth import JsonFile, digest
from .users import check_role

FILE_NAME = "keys.json"
PREFIX = "pqa_"
NAME_RE = re.compile(r"^[\w.@-]{1,64}$")


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.file = JsonFile(path)
        self._index: tuple[int, dict[str, dict]] = (-1, {})  # (the file's version read, digest -> key)
        self._lock = threading.Lock()

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> KeyStore:
        return cls(Path(data_dir) / FILE_NAME)

    def _keys(self) -> dict:
        return self.file.read().get("keys", {})

    def __len__(self) -> int:
        return len(self._keys())

    def list(self) -> list[dict]:
        return [{"name": n, "role": k["role"], "rate": k.get("rate"), "prefix": k.get("prefix", ""),
                 "created": k.get("created", "")} for n, k in sorted(self._keys().items())]

    def get(self, name: str) -> dict | None:
        key = self._keys().get(name)
        return {"name": name, **key} if key else None

    def add(self, name: str, role: str, rate: float | None = None) -> str:
        """Make a key; returns it (the only time it is shown)."""
        if not NAME_RE.match(name or ""):
            raise PudongQAError(f"key name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'")
        check_role(role)
        if rate is not None and rate < 0:
            raise PudongQAError("the rate limit is requests per second: 0 (no limit) or more")
        token = PREFIX + secrets.token_urlsafe(32)

        entry = {"role": role, "sha256": digest(token), "prefix": token[:8], "rate": rate,
                 "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self.file.put("keys", name, entry,
                      PudongQAError(f"a key named {name!r} exists (revoke it first: pudong-qa keys revoke {name})"))
        return token

    def revoke(self, name: str) -> None:
        self.file.drop("keys", name, PudongQAError(f"no key named {name!r}"))

    def lookup(self, token: str) -> dict | None:
        """The key ``token`` is (with its name and role), or None."""
        if not token.startswith(PREFIX):
            return None
        version, data = self.file.snapshot()
        with self._lock:
            if self._index[0] != version:
                self._index = (version,
                               {k["sha256"]: {"name": n, **k} for n, k in data.get("keys", {}).items()})
            index = self._index[1]
        wanted = digest(token)
        found = index.get(wanted)
        return found if found and hmac.compare_digest(found["sha256"], wanted) else None
