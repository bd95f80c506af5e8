"""Measurements of pudong-qa, kept out of the installed package.

Run from the project folder (the one holding ``corpus/`` and ``benchmarks/``), in the project's
virtualenv with the test extras (``pip install -e '.[test]'``: psutil, gradio_client):

    python -m benchmarks.bench QUESTIONS [--quick]       cold start, build, latency, batch, memory, scale
    python -m benchmarks.calibrate measure|calibrate     retrieval on every question set; the confidence's constants
    python -m benchmarks.page_add FOLDER DOCUMENT        adding a document as the chat page's index tab does
    python -m benchmarks.store_latency WORKDIR           the local store against Milvus Lite
    python -m benchmarks.answer_core FILE...             the marked sentence against the whole answer

Each builds one ``Settings.from_env()`` at its entry point and passes it down.
"""
