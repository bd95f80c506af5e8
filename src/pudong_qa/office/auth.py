"""Who may do what on a served pudong-qa: roles, the signed-in principal, page sessions, the
slow-down of repeated wrong passwords and the per-key rate limit.

- Roles: **reader** (ask, batch, source view, feedback, list documents, index status) and
  **editor** (also add and remove documents and rebuild). ``allowed(role, action)`` is the one
  rule the page's handlers and the HTTP API both check, server-side.
- ``Access`` ties together the users (``users.py``, passwords hashed with argon2id), the API keys
  (``keys.py``, SHA-256 of 256-bit random keys), the page sessions kept in memory, ``Throttle``
  and ``RateLimiter``. Secrets never reach a log: only user and key *names* are recorded.
- Sign-in is required whenever the server listens beyond loopback (``signin_required``); on
  loopback it is optional unless ``PUDONG_QA_REQUIRE_SIGNIN`` is set, and then every request
  without credentials acts as the one local person, an editor.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class Action(str, Enum):
    """What a request may ask to do: declared once, so a misspelt action fails where it is named."""

    ASK = "ask"
    BATCH = "batch"
    SOURCE = "source"  # the source view of a cited document
    FEEDBACK = "feedback"
    DOCUMENTS = "documents"  # list the indexed documents
    STATUS = "status"
    ADD = "add"  # add documents
    REMOVE = "remove"
    REBUILD = "rebuild"


class Role(str, Enum):
    """Who may do what: a reader asks and reads, an editor also changes the documents."""

    READER = "reader"
    EDITOR = "editor"

    @property
    def actions(self) -> frozenset[Action]:
        return EDITOR_ACTIONS if self is Role.EDITOR else READER_ACTIONS


READER, EDITOR = Role.READER.value, Role.EDITOR.value
ROLES = tuple(r.value for r in Role)
READER_ACTIONS = frozenset({Action.ASK, Action.BATCH, Action.SOURCE, Action.FEEDBACK, Action.DOCUMENTS, Action.STATUS})
EDITOR_ACTIONS = READER_ACTIONS | {Action.ADD, Action.REMOVE, Action.REBUILD}
LOCAL = "local"  # the principal of a sign-in-free server on loopback
SESSION_COOKIE = "pqa_session"


def allowed(role: str | None, action: Action | str) -> bool:
    """Whether ``role`` may do ``action``; an unknown role may do nothing, and an action that is
    not an ``Action`` (a typo) raises ``ValueError`` rather than quietly refusing."""
    action = Action(action)
    return role in ROLES and action in Role(role).actions


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``; ``0.0.0.0``, ``::`` and every other address are not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def signin_required(host: str, require: bool) -> bool:
    """Sign-in is asked for beyond loopback always, on loopback only when ``require`` is set."""
    return require or not is_loopback(host)


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a signed-in user, an API key, or the local person of a sign-in-free server."""

    name: str
    role: str
    kind: str  # "user", "key" or "local"

    @property
    def id(self) -> str:
        """How the page, the feedback file and the audit log name it: ``alice``, ``key:dify``, ``local``."""
        return f"key:{self.name}" if self.kind == "key" else self.name

    def may(self, action: Action | str) -> bool:
        return allowed(self.role, action)


class JsonFile:
    """A small JSON document on disk (users, keys): written whole and atomically with owner-only
    permissions, and read again whenever it changed on disk, so ``pudong-qa users remove`` or
    ``keys revoke`` takes effect in a running server at its next request."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._data: dict = {}
        self.version = 0  # counts the times the file was read: what is derived from it can tell it is stale

    def read(self) -> dict:
        return self.snapshot()[1]

    def snapshot(self) -> tuple[int, dict]:
        """(version, data): the version changes whenever the data is read anew from disk."""
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                if self._seen is not None or self._data:
                    self._seen, self._data, self.version = None, {}, self.version + 1
                return self.version, self._data
            if self._seen != (st.st_mtime_ns, st.st_size):
                self._data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
                self._seen, self.version = (st.st_mtime_ns, st.st_size), self.version + 1
            return self.version, self._data

    def update(self, change: Callable[[dict], dict]) -> None:
        """Read, change and write under a file lock, so two ``pudong-qa users`` commands at once lose nothing."""
        from ..disk.locking import file_lock

        with file_lock(self.path.with_name(f".{self.path.name}.lock")):
            with self._lock:
                self._seen = None
            self.write(change(json.loads(json.dumps(self.read()))))

    def put(self, section: str, name: str, entry: dict, taken: Exception) -> None:
        """Add ``entry`` as ``section[name]``; ``taken`` is raised if that name is already there."""
        def change(data: dict) -> dict:
            if name in data.setdefault(section, {}):
                raise taken
            data[section][name] = entry
            return data

        self.update(change)

    def drop(self, section: str, name: str, missing: Exception) -> None:
        """Remove ``section[name]``; ``missing`` is raised if there is none."""
        def change(data: dict) -> dict:
            if data.get(section, {}).pop(name, None) is None:
                raise missing
            return data

        self.update(change)

    def write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        with self._lock:
            self._seen = None  # re-read on next use


class Throttle:
    """Slows down repeated wrong passwords. After ``free`` failures in a row for a user name (or
    ``free_address`` from one client address), each further try must wait ``2 ** (n - free)``
    seconds after the last failure (at most ``max_wait``); a try made sooner is refused without
    the password being checked, so waiting cannot be skipped by guessing faster. A success clears both."""

    def __init__(self, free: int = 3, free_address: int = 10, max_wait: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.free_address, self.max_wait, self.clock = free, free_address, max_wait, clock
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures in a row, time of the last)
        self._lock = threading.Lock()

    def _keys(self, user: str, address: str) -> list[tuple[str, int]]:
        return [(f"user:{user.casefold()}", self.free), (f"addr:{address}", self.free_address)]

    def wait(self, user: str, address: str) -> float:
        """Seconds before the next try for this user name from this address is looked at (0: now)."""
        now, longest = self.clock(), 0.0
        with self._lock:
            for key, free in self._keys(user, address):
                n, last = self._failures.get(key, (0, 0.0))
                if n >= free:
                    longest = max(longest, last + min(self.max_wait, 2.0 ** (n - free)) - now)
        return max(0.0, longest)

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > 100_000:  # bounded memory: forget the failures of the last hour's past
                self._failures = {k: v for k, v in self._failures.items() if now - v[1] < 3600}
            for key, _ in self._keys(user, address):
                self._failures[key] = (self._failures.get(key, (0, 0.0))[0] + 1, now)

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            for key, _ in self._keys(user, address):
                self._failures.pop(key, None)


class RateLimiter:
    """A token bucket per API key, in memory: ``rate`` requests a second on average, bursts of
    ``2 * rate``. ``take`` answers 0 when the request may go ahead, else the seconds to wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, time)
        self._lock = threading.Lock()

    def take(self, name: str, rate: float) -> float:
        if rate <= 0:
            return 0.0  # no limit for this key
        burst, now = max(1.0, 2 * rate), self.clock()
        with self._lock:
            tokens, then = self._buckets.get(name, (burst, now))
            tokens = min(burst, tokens + (now - then) * rate)
            if tokens >= 1:
                self._buckets[name] = (tokens - 1, now)
                return 0.0
            self._buckets[name] = (tokens, now)
            return (1 - tokens) / rate


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Sessions:
    """Page sign-ins, in memory (a restart signs everyone out): a random token in an HttpOnly
    cookie, kept by its SHA-256, ended after ``hours`` without use or on sign-out."""

    def __init__(self, hours: float = 12.0, clock: Callable[[], float] = time.time) -> None:
        self.ttl, self.clock = hours * 3600, clock
        self._sessions: dict[str, tuple[str, float]] = {}  # digest(token) -> (user name, last use)
        self._lock = threading.Lock()

    def create(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._sessions = {k: v for k, v in self._sessions.items() if now - v[1] < self.ttl}
            self._sessions[digest(token)] = (user, now)
        return token

    def user(self, token: str) -> str | None:
        key, now = digest(token), self.clock()
        with self._lock:
            found = self._sessions.get(key)
            if found is None or now - found[1] >= self.ttl:
                self._sessions.pop(key, None)
                return None
            self._sessions[key] = (found[0], now)
            return found[0]

    def end(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(digest(token), None)


class Access:
    """Credentials in, a ``Principal`` out: API keys (``Authorization: Bearer``), page sessions
    (a cookie) and sign-in with a password, over the data folder's user and key files."""

    def __init__(self, users, keys, required: bool, key_rate: float = 10.0, session_hours: float = 12.0,
                 throttle: Throttle | None = None, limiter: RateLimiter | None = None) -> None:
        self.users, self.keys, self.required, self.key_rate = users, keys, required, key_rate
        self.sessions = Sessions(session_hours)
        self.throttle = throttle or Throttle()
        self.limiter = limiter or RateLimiter()
        self._signing_in = threading.Lock()  # one password check at a time: the throttle cannot be outrun

    @property
    def local(self) -> Principal | None:
        """Who a request without credentials is: the local editor on a sign-in-free server, else nobody."""
        return None if self.required else Principal(LOCAL, EDITOR, "local")

    def from_key(self, token: str) -> Principal | None:
        entry = self.keys.lookup(token)
        return Principal(entry["name"], entry["role"], "key") if entry else None

    def key_wait(self, principal: Principal) -> float:
        """0 if this key may make a request now, else the seconds until it may (HTTP 429)."""
        entry = self.keys.get(principal.name)
        own = entry.get("rate") if entry else None
        rate = self.key_rate if own is None else float(own)  # a key's own rate, 0 meaning no limit
        return self.limiter.take(principal.name, rate)

    def from_session(self, token: str) -> Principal | None:
        """The signed-in user, with the role the user file gives now (a removed user is signed out)."""
        name = self.sessions.user(token)
        role = self.users.role(name) if name else None
        if name and role is None:
            self.sessions.end(token)
        return Principal(name, role, "user") if name and role else None

    def sign_in(self, user: str, password: str, address: str) -> tuple[Principal | None, float]:
        """(the user, 0) on success; (None, 0) for a wrong name or password; (None, seconds) while
        this name or address must wait after repeated failures (the password is then not checked)."""
        with self._signing_in:  # in parallel, many guesses could pass the wait before one failure counts
            wait = self.throttle.wait(user, address)
            if wait > 0:
                return None, wait
            role = self.users.verify(user, password)
            if role is None:
                self.throttle.failed(user, address)
                return None, 0.0
            self.throttle.succeeded(user, address)
        return Principal(user, role, "user"), 0.0

    def principal(self, ident: str | None) -> Principal | None:
        """The principal a page handler's ``gr.Request.username`` names (roles looked up now)."""
        if not ident:
            return None
        if ident == LOCAL:
            return self.local
        if ident.startswith("key:"):
            entry = self.keys.get(ident[4:])
            return Principal(entry["name"], entry["role"], "key") if entry else None
        role = self.users.role(ident)
        return Principal(ident, role, "user") if role else None
