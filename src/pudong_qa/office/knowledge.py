"""Knowledge bases: the corpus folders one server answers from, each with its own index and one
``QAService``; the page shows the first, the API and Dify's ``knowledge_id`` choose by id.

By default a server serves one knowledge base, its corpus folder (``--corpus``/``PUDONG_QA_CORPUS``)
with its index (``--index``), under the folder's name as its id (``corpus`` for the project folder).
``--kb NAME=CORPUS_DIR[:INDEX_DIR]`` (repeatable; or ``PUDONG_QA_KNOWLEDGE_BASES`` with the specs
separated by commas) serves exactly the folders listed instead, the first being the default. A
listed folder's index goes to ``INDEX_DIR`` or ``<data dir>/indexes/NAME``, and its citations'
sources are relative to the folder's parent (``reports/x.docx``). The model is loaded once for all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import PudongQAError
from ..settings import Settings

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class UnknownKnowledgeBase(PudongQAError, KeyError):
    """No knowledge base has this id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class KnowledgeBaseSpec:
    id: str
    settings: Settings


def default_id(corpus: Path) -> str:
    """The one served folder's id: its name, with anything but letters, digits, _ and - made '-'."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(corpus).resolve().name).strip("-")[:64]
    return name or "default"


def parse_spec(spec: str, settings: Settings) -> KnowledgeBaseSpec:
    """``NAME=CORPUS_DIR[:INDEX_DIR]`` as the settings of one knowledge base."""
    name, sep, paths = spec.partition("=")
    name = name.strip()
    if not sep or not paths.strip():
        raise PudongQAError(f"knowledge base {spec!r}: write NAME=CORPUS_DIR or NAME=CORPUS_DIR:INDEX_DIR")
    if not ID_RE.match(name):
        raise PudongQAError(f"knowledge base name {name!r}: use 1-64 letters, digits, '_' or '-'")
    corpus, _, index = paths.strip().partition(":")
    corpus_dir = Path(corpus).expanduser().resolve()
    index_dir = Path(index).expanduser().resolve() if index else Path(settings.data_dir).resolve() / "indexes" / name
    return KnowledgeBaseSpec(name, replace(settings, root=corpus_dir.parent, corpus=corpus_dir, index=index_dir))


def knowledge_base_specs(settings: Settings, specs: list[str] | tuple[str, ...] = ()) -> list[KnowledgeBaseSpec]:
    """The knowledge bases to serve: ``specs`` (else the settings' ``knowledge_bases``), else the one corpus."""
    listed = list(specs) or [s for s in settings.knowledge_bases.split(",") if s.strip()]
    if not listed:
        return [KnowledgeBaseSpec(default_id(settings.corpus), settings)]
    out = [parse_spec(s, settings) for s in listed]
    ids = [kb.id for kb in out]
    if len(set(ids)) != len(ids):
        raise PudongQAError(f"knowledge base names must differ: {', '.join(ids)}")
    return out


class KnowledgeBases:
    """The served knowledge bases by id, each a loaded ``QAService`` (indexes built first if needed)."""

    def __init__(self, specs: list[KnowledgeBaseSpec], log: Callable[[str], None] = print,
                 service_factory: Callable | None = None) -> None:
        if service_factory is None:
            from ..service import QAService as service_factory
        self.services = {}
        for kb in specs:
            if len(specs) > 1:
                log(f"Knowledge base {kb.id}: {kb.settings.corpus}")
            self.services[kb.id] = service_factory(kb.settings, log=log)
        self.default = specs[0].id

    def get(self, kb: str | None = None):
        """(id, service) for ``kb``, or for the default knowledge base when ``kb`` is empty."""
        kb = kb or self.default
        if kb not in self.services:
            raise UnknownKnowledgeBase(code="unknown_kb", kb=kb, known=", ".join(self.services))
        return kb, self.services[kb]

    def __iter__(self) -> Iterator[str]:
        return iter(self.services)

    def __len__(self) -> int:
        return len(self.services)
