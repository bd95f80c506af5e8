"""Sign-in and roles without a server: users (argon2id), keys (hashed), sessions, the slow-down of
wrong passwords, the per-key rate limit, and the users/keys/audit commands. No model needed."""

import json
import os
import stat

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from pudong_qa.cli import cli
from pudong_qa.errors import PudongQAError
from pudong_qa.office.auth import (
    EDITOR,
    READER,
    Access,
    RateLimiter,
    Sessions,
    Throttle,
    allowed,
    is_loopback,
    signin_required,
)
from pudong_qa.office.keys import KeyStore
from pudong_qa.office.users import UserStore

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # argon2id still, at a test's cost


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True),
                                           ("::1", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
                                           ("example.org", False)])
def test_sign_in_is_required_beyond_loopback_and_on_request(host, loopback):
    assert is_loopback(host) is loopback
    assert signin_required(host, require=False) is not loopback
    assert signin_required(host, require=True)


def test_roles():
    for action in ("ask", "batch", "source", "feedback", "documents", "status"):
        assert allowed(READER, action) and allowed(EDITOR, action)
    for action in ("add", "remove", "rebuild"):
        assert not allowed(READER, action) and allowed(EDITOR, action)
    assert not allowed(None, "ask") and not allowed("admin", "ask")
    with pytest.raises(ValueError, match="format-disk"):  # a misspelt action fails loudly, never just refuses
        allowed(EDITOR, "format-disk")


def test_users_are_stored_with_argon2_hashes_owner_only(tmp_path):
    assert UserStore(tmp_path / "u.json").hasher.time_cost >= 2  # the real cost, unless a test lowers it
    users = UserStore(tmp_path / "users.json", FAST)
    users.add("alice", "correct horse", READER)
    users.add("张三", "battery staple", EDITOR)
    text = (tmp_path / "users.json").read_text(encoding="utf-8")
    assert "correct horse" not in text and "battery staple" not in text
    assert json.loads(text)["users"]["alice"]["hash"].startswith("$argon2id$")
    assert stat.S_IMODE(os.stat(tmp_path / "users.json").st_mode) == 0o600
    assert users.verify("alice", "correct horse") == READER and users.verify("张三", "battery staple") == EDITOR
    assert users.verify("alice", "wrong horse") is None and users.verify("nobody", "correct horse") is None
    users.passwd("alice", "a new password")
    assert users.verify("alice", "correct horse") is None and users.verify("alice", "a new password") == READER
    users.remove("alice")
    assert users.role("alice") is None and [u["name"] for u in users.list()] == ["张三"]
    for bad in (lambda: users.add("bob", "short", READER), lambda: users.add("b/ob", "long enough", READER),
                lambda: users.add("local", "long enough", READER), lambda: users.add("bob", "long enough", "admin"),
                lambda: users.add("张三", "long enough", READER), lambda: users.remove("nobody")):
        with pytest.raises(PudongQAError):
            bad()


def test_keys_are_stored_hashed_and_revoking_takes_effect_at_once(tmp_path):
    keys = KeyStore(tmp_path / "keys.json")
    served = KeyStore(tmp_path / "keys.json")  # what a running server holds
    token = keys.add("dify", READER)
    assert token.startswith("pqa_") and len(token) > 40
    assert token not in (tmp_path / "keys.json").read_text(encoding="utf-8")
    assert served.lookup(token)["name"] == "dify" and served.lookup(token + "x") is None
    assert served.lookup("Bearer " + token) is None
    keys.revoke("dify")
    assert served.lookup(token) is None
    with pytest.raises(PudongQAError):
        keys.revoke("dify")


def test_wrong_passwords_are_slowed_down_per_user_and_address(tmp_path):
    clock = Clock()
    users = UserStore(tmp_path / "users.json", FAST)
    users.add("alice", "correct horse", READER)
    access = Access(users, KeyStore(tmp_path / "keys.json"), required=True, throttle=Throttle(clock=clock))
    results = [access.sign_in("alice", f"guess {n}", "10.0.0.9") for n in range(5)]
    assert [who for who, _ in results] == [None] * 5
    assert [wait > 0 for _, wait in results] == [False, False, False, True, True]  # the 4th and 5th must wait
    who, wait = access.sign_in("alice", "correct horse", "10.0.0.9")
    assert who is None and wait > 0  # even the right password waits: guessing faster cannot skip it
    clock.t += wait
    who, wait = access.sign_in("alice", "correct horse", "10.0.0.9")
    assert who.name == "alice" and who.role == READER and wait == 0
    # the waits double with each failure past the free ones, up to a bound
    throttle = Throttle(free=3, max_wait=60, clock=clock)
    waits = []
    for _ in range(12):
        throttle.failed("bob", "10.0.0.1")
        waits.append(throttle.wait("bob", "10.0.0.1"))
    assert waits[:6] == [0, 0, 1, 2, 4, 8] and max(waits) == 60
    # one address trying many names is slowed down too
    many = Throttle(free=3, free_address=10, clock=clock)
    for n in range(10):
        many.failed(f"user{n}", "10.0.0.2")
    assert many.wait("someone-new", "10.0.0.2") > 0 and many.wait("someone-new", "10.0.0.3") == 0


def test_rate_limit_per_key():
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    assert [limiter.take("k", rate=2) for _ in range(4)] == [0, 0, 0, 0]  # a burst of twice the rate
    wait = limiter.take("k", rate=2)
    assert wait == pytest.approx(0.5)
    assert limiter.take("other", rate=2) == 0  # per key
    clock.t += 0.5
    assert limiter.take("k", rate=2) == 0
    assert all(limiter.take("free", rate=0) == 0 for _ in range(100))  # 0: no limit


def test_sessions_expire_unused_and_end_on_sign_out():
    clock = Clock()
    sessions = Sessions(hours=1, clock=clock)
    token = sessions.create("alice")
    clock.t += 3000
    assert sessions.user(token) == "alice"  # use renews it
    clock.t += 3000
    assert sessions.user(token) == "alice"
    clock.t += 3601
    assert sessions.user(token) is None
    token = sessions.create("alice")
    sessions.end(token)
    assert sessions.user(token) is None and sessions.user("forged") is None


def test_a_removed_user_is_signed_out(tmp_path):
    users = UserStore(tmp_path / "users.json", FAST)
    users.add("alice", "correct horse", EDITOR)
    access = Access(users, KeyStore(tmp_path / "keys.json"), required=True)
    token = access.sessions.create("alice")
    assert access.from_session(token).role == EDITOR
    UserStore(tmp_path / "users.json").remove("alice")  # `pudong-qa users remove` in another process
    assert access.from_session(token) is None and access.principal("alice") is None


def test_users_keys_and_audit_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("PUDONG_QA_ROOT", str(tmp_path))
    monkeypatch.delenv("PUDONG_QA_DATA_DIR", raising=False)
    runner = CliRunner()

    def run(*args, stdin=None):
        return runner.invoke(cli, list(args), input=stdin, catch_exceptions=False)

    assert run("users", "add", "alice", "--role", "editor", "--password-stdin", stdin="s3cret-pass\n").exit_code == 0
    prompted = run("users", "add", "bob", stdin="another-pass\nanother-pass\n")  # asked twice, not echoed
    assert prompted.exit_code == 0 and "another-pass" not in prompted.output
    assert run("users", "list").output.splitlines()[0].startswith("alice\teditor")
    short = run("users", "add", "carol", "--password-stdin", stdin="short\n")
    assert short.exit_code == 2 and "at least 8" in short.stderr
    made = run("keys", "add", "dify", "--role", "reader", "--rate", "5")
    token = made.stdout.strip()
    assert made.exit_code == 0 and token.startswith("pqa_") and "shown once" in made.stderr
    listed = run("keys", "list").output
    assert "dify\treader\t5.0/s" in listed and token not in listed
    assert run("users", "passwd", "alice", "--password-stdin", stdin="s3cret-pass-2\n").exit_code == 0
    assert run("keys", "revoke", "dify").exit_code == 0 and run("keys", "revoke", "dify").exit_code == 2
    assert run("users", "remove", "bob").exit_code == 0
    log = run("audit").output
    for action in ("user-add", "key-add", "user-passwd", "key-revoke", "user-remove"):
        assert action in log
    entries = [json.loads(x) for x in run("audit", "--json", "--last", "2").output.splitlines()]
    assert [e["action"] for e in entries] == ["key-revoke", "user-remove"] and entries[0]["who"] == "cli"
    data = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "data").iterdir() if p.is_file())
    for secret in ("s3cret-pass", "another-pass", token):
        assert secret not in data
