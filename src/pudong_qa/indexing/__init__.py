"""The write side of an index: ``build_index`` and what it is made of.

``texts``     what of a passage is embedded and what BM25 indexes
``manifest``  what an index was built from, and why one is out of date
``tokens``    the BM25 tokens stored with an index
``reuse``     what a build takes from the index it replaces
``embed``     the model's work in a background thread
``folders``   the temporary folder, the swap and the lock
``build``     ``build_index`` itself
"""

from .build import BuildReport, build_index
from .manifest import expected_state, stale_reasons, store_options
from .texts import indexed_text

__all__ = ["BuildReport", "build_index", "expected_state", "indexed_text", "stale_reasons", "store_options"]
