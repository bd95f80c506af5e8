"""Readers for the formats real reports come in: Word, PDF, web pages, and text in legacy encodings.

Importing this package registers them in ``registry.LOADERS`` by file suffix (the text reader replaces
the plain UTF-8 one for .txt/.md), so ``corpus.load_document`` reads any of them into the same
``Document``. Every reader raises CorpusError, naming the file, for a file it cannot use.
"""

from __future__ import annotations

from .describe import binary_kind, describe_file
from .docx import load_docx
from .html import decode_html, load_html
from .pdf import load_pdf
from .registry import LOADERS, loader, supported_suffixes
from .scanned import load_image
from .text import decode, decode_question_bytes, load_text, read_question_text

__all__ = ["LOADERS", "binary_kind", "decode", "decode_html", "decode_question_bytes", "describe_file", "load_docx",
           "load_html", "load_image", "load_pdf", "load_text", "loader", "read_question_text", "supported_suffixes"]
