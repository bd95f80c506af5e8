"""Helpers for the office tests (test_api, test_security, test_mcp, test_office_load): a private copy
of the built project served as an office — users, keys, sign-in required — in-process."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from conftest import ROOT

from pudong_qa.office.keys import KeyStore
from pudong_qa.office.users import UserStore
from pudong_qa.settings import Settings

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # argon2id at a test's cost
PASSWORDS = {"alice": "reader-password", "ed": "editor-password"}  # alice reads, ed edits


@dataclass
class Credentials:
    reader_key: str
    editor_key: str
    slow_key: str  # a reader key limited to 1 request a second


def copy_project(project_settings: Settings, root: Path) -> Path:
    """The built project's corpus and index, copied (modification times kept, so the index is current)."""
    shutil.copytree(project_settings.corpus, root / "corpus")
    shutil.copytree(project_settings.index, root / "index")
    return root


def add_people(settings: Settings) -> Credentials:
    users = UserStore.for_data_dir(settings.data_dir)
    users.hasher = FAST
    users.add("alice", PASSWORDS["alice"], "reader")
    users.add("ed", PASSWORDS["ed"], "editor")
    keys = KeyStore.for_data_dir(settings.data_dir)
    return Credentials(keys.add("dify", "reader", rate=0), keys.add("ops", "editor", rate=0),
                       keys.add("slow", "reader", rate=1))


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def own_questions() -> list[str]:
    path = ROOT / "tests" / "data" / "own_questions.jsonl"
    return [json.loads(x)["question"] for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def contract(record: dict) -> dict:
    """The evaluation contract's fields of an API record (what the CLI's JSONL has)."""
    return {k: record[k] for k in ("question", "answered", "verdict", "expansions", "results") if k in record} | (
        {"error": record["error"]} if "error" in record else {})


def same_answer(a: dict, b: dict, tolerance: float = 1e-4) -> bool:
    """Two contract records say the same: question, answered, and each result's rank, text, answer and
    citation; scores equal to 4 decimals, give or take one in the last (a question embedded alone or
    in the CLI's batch of 32 differs by ~1e-8 in its vector, which can move a rounding)."""
    strip = lambda r: {**r, "results": [{k: v for k, v in x.items() if k != "score"} for x in r["results"]]}  # noqa: E731
    return strip(contract(a)) == strip(contract(b)) and all(
        abs(x["score"] - y["score"]) <= tolerance + 1e-9 for x, y in zip(a["results"], b["results"]))


def dify_request(knowledge_id: str, query: str, top_k: int = 2, threshold: float = 0.5) -> dict:
    """Dify's documented request example, with the given id and query."""
    return {"knowledge_id": knowledge_id, "query": query, "retrieval_setting": {"top_k": top_k,
                                                                                  "score_threshold": threshold}}
