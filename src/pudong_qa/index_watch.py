"""Noticing an index that another process rebuilt (``pudong-qa build`` beside a running server).

A build swaps a whole new folder in by renaming it (``indexing.folders``), the manifest written
last, so the index folder's inode and times and the manifest's inode, times and size change
together and only once the new index is complete (the change times too, which copying with the
times kept, ``cp -a``, cannot set back). ``index_stamp`` reads them with two ``stat`` calls;
``IndexWatcher`` compares it every few seconds in a daemon thread and hands a change to the
service, which loads the new index there, off the request path, and swaps it in.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

from .index import MANIFEST

log = logging.getLogger("pudong_qa")

Stamp = tuple[int, ...]


def index_stamp(index_dir: Path) -> Stamp | None:
    """What changes when a build swaps a new index in; None while there is no complete index (e.g.
    between the two renames of a swap)."""
    try:
        folder = os.stat(index_dir)
        manifest = os.stat(Path(index_dir) / MANIFEST)
    except OSError:
        return None
    return (folder.st_ino, folder.st_mtime_ns, folder.st_ctime_ns, manifest.st_ino, manifest.st_mtime_ns,
            manifest.st_ctime_ns, manifest.st_size)


class IndexWatcher:
    """Calls ``check`` on ``owner`` every ``interval`` seconds in a daemon thread, for as long as the
    owner exists (only a weak reference is held, so a dropped service stops its watcher) or until
    ``stop``. ``check`` must be cheap when nothing changed: a ``stat`` or two."""

    def __init__(self, owner: object, check: Callable[[object], object], interval: float) -> None:
        self._stopped = threading.Event()
        ref = weakref.ref(owner)

        def run() -> None:
            while not self._stopped.wait(interval):
                target = ref()
                if target is None:
                    return
                try:
                    check(target)
                except Exception:  # a watcher never dies of one bad round; the next tries again
                    log.exception("checking for a rebuilt index failed")
                del target

        self.thread = threading.Thread(target=run, name="pudong-qa-index-watch", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self._stopped.set()
