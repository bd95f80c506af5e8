"""The people who may sign in to a served pudong-qa, each with a role: ``<data dir>/users.json``
(owner-only permissions), managed with ``pudong-qa users add/list/remove/passwd``.

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher``, its default cost: a random
salt per password, about 50 ms per check); the file holds only the encoded hashes. A check of an
unknown name costs the same as a wrong password, so timing does not tell which names exist.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import PudongQAError
from .auth import LOCAL, ROLES, JsonFile

FILE_NAME = "users.json"
NAME_RE = re.compile(r"^[\w.@-]{1,64}$")  # letters (Chinese too), digits, _ . @ -
MIN_PASSWORD = 8


class UserStore:
    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.file = JsonFile(path)
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106's low-memory parameters
        self._dummy: str | None = None  # what unknown names are checked against

    @property
    def dummy(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash("not the password of anyone")
        return self._dummy

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> UserStore:
        return cls(Path(data_dir) / FILE_NAME)

    def _users(self) -> dict:
        return self.file.read().get("users", {})

    def list(self) -> list[dict]:
        return [{"name": n, "role": u["role"], "created": u.get("created", "")}
                for n, u in sorted(self._users().items())]

    def role(self, name: str) -> str | None:
        user = self._users().get(name)
        return user["role"] if user else None

    def __len__(self) -> int:
        return len(self._users())

    def add(self, name: str, password: str, role: str) -> None:
        check_name(name)
        check_role(role)
        hashed = self.hasher.hash(check_password(password))

        entry = {"role": role, "hash": hashed, "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self.file.put("users", name, entry,
                      PudongQAError(f"user {name!r} already exists (new password: pudong-qa users passwd {name})"))

    def remove(self, name: str) -> None:
        self.file.drop("users", name, PudongQAError(f"no user {name!r}"))

    def passwd(self, name: str, password: str) -> None:
        hashed = self.hasher.hash(check_password(password))

        def change(data: dict) -> dict:
            if name not in data.get("users", {}):
                raise PudongQAError(f"no user {name!r}")
            data["users"][name]["hash"] = hashed
            return data

        self.file.update(change)

    def verify(self, name: str, password: str) -> str | None:
        """The user's role if ``password`` is theirs, else None (unknown names cost the same check)."""
        user = self._users().get(name)
        try:
            self.hasher.verify(user["hash"] if user else self.dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return user["role"] if user else None


def check_name(name: str) -> str:
    if not NAME_RE.match(name or "") or name == LOCAL:
        raise PudongQAError(f"user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-' (not {LOCAL!r})")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise PudongQAError(f"role {role!r}: use one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise PudongQAError(code="short_password", min=MIN_PASSWORD)
    return password
