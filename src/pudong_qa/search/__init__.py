"""The read side of search: a question analysed (``query``), searched in stages (``stages``,
weighed by ``ranking``, answered by ``answer``) by a ``Searcher`` over an index it is handed."""

from .searcher import LexicalResult, Searcher

__all__ = ["LexicalResult", "Searcher"]
