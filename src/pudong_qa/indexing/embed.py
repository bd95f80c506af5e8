"""A build's vectors: made in a background thread while the build reads the previous index,
tokenizes and writes the files that need no vectors (the model runs in native threads that
release the GIL, so both cores stay busy)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

from ..embedding import Encoder
from ..settings import Settings


def in_background(work: Callable[[], Any]) -> Callable[[], Any]:
    """Start ``work`` in a daemon thread (an interrupted build does not wait for it); the returned
    function waits for its result or raises its exception."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="pudong-qa-embed", daemon=True)
    thread.start()

    def wait() -> Any:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return wait


class BuildModel:
    """The build's encoder: the one it was given (the page's, already loaded), or loaded on
    first need, from the moment the build knows it will likely embed."""

    def __init__(self, settings: Settings, model: Encoder | None, progress: bool, log: Callable[[str], None],
                 held: contextlib.ExitStack) -> None:
        self.settings, self.progress, self.log, self.held = settings, progress, log, held
        self._model = model
        self._loading: Callable[[], Any] | None = None

    def prepare(self) -> None:
        """Texts to embed are likely: load the model while the corpus is chunked, or have the
        given one make its build sessions now."""
        if self._model is None:
            self._loading = in_background(self._load)
        else:
            self.held.enter_context(self._model.bulk())

    def get(self) -> Encoder:
        if self._model is None:
            self._model = self._loading() if self._loading else self._load()
        return self._model

    def _load(self) -> Encoder:
        from ..embedding import load_model

        self.log(f"Loading embedding model {self.settings.model} …")
        return load_model(self.settings.model, self.settings.cache_dir, self.settings.backend,
                          progress=self.progress, for_build=True)


class EmbeddingJob:
    """Vectors for ``texts`` in a background thread: first those of documents the previous index
    never saw (``ahead``, none of which it can have), then whatever the previous vectors, handed
    over with ``supply``, do not cover. Each distinct text is embedded once."""

    def __init__(self, model: BuildModel, texts: list[str], ahead: list[str], progress: bool) -> None:
        self.model, self.texts, self.ahead, self.progress = model, texts, ahead, progress
        self.previous: Future = Future()
        self.started = threading.Event()  # set once the model runs (or failed to load)
        self.embedded = 0  # texts the model embedded, known once done
        self._wait = in_background(self._run)

    def supply(self, previous: Callable[[], dict[str, np.ndarray]]) -> int:
        """Read the previous index's vectors here while the model runs, once the model has
        started on ``ahead`` (until then work here would only slow its loading: the GIL).
        Returns how many texts they do not cover."""
        if self.ahead:
            self.started.wait()
        try:
            cache = previous()
        except BaseException:
            self.previous.cancel()  # the model's thread stops waiting for them and ends
            raise
        self.previous.set_result(cache)
        return sum(t not in cache for t in self.texts)

    def vectors(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Once done: the first ``n`` texts' vectors (the passages') and the rest (the sentences')."""
        vecs, self.embedded = self._wait()
        self.previous = Future()  # the previous index's vectors are no longer needed
        return vecs[:n], vecs[n:]

    def _run(self) -> tuple[np.ndarray, int]:
        with contextlib.ExitStack() as held:
            model = None

            def ready() -> Encoder:  # the model loaded and holding its build sessions, once
                nonlocal model
                if model is None:
                    model = self.model.get()
                    held.enter_context(model.bulk())
                return model

            fresh: dict[str, np.ndarray] = {}
            if self.ahead:
                try:
                    ready()
                finally:
                    self.started.set()
                fresh = dict(zip(self.ahead, ready().encode_passages(self.ahead, progress=self.progress)))
            known = {**fresh, **self.previous.result()}
            missing = list(dict.fromkeys(t for t in self.texts if t not in known))
            if missing:
                known.update(zip(missing, ready().encode_passages(missing, progress=self.progress)))
            vecs = np.stack([known[t] for t in self.texts]).astype(np.float32, copy=False)
            return vecs, len(missing) + len(fresh)
