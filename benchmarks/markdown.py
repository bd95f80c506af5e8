"""The benchmark's figures as the Markdown tables of docs/benchmarks.md."""

from __future__ import annotations


def _report_table(r: dict) -> list[str]:
    q, b, batch = r["query"], r["build"], r["batch"]
    lines = [
        "## The report", "",
        "| what | result | target |", "| --- | --- | --- |",
        f"| cold start, process start → first answer (`pudong-qa ask`) | {r['cold_start_ask']['median_s']} s | ≤ 4 s |",
    ]
    if "cold_start_page" in r:
        p = r["cold_start_page"]
        lines += [f"| cold start, process start → chat page ready | {p['median_s']} s | ≤ 8 s |",
                  f"| serving process RSS after {p['answers']} chat answers "
                  f"(peak) | {p['rss_mb']} MB ({p['peak_rss_mb']} MB) | ≤ 1 GB |"]
    return lines + [
        f"| build the report's index (model cached) | {b['median_s']} s | |",
        f"| embedding throughput (passages of ~{b['passage_chars_mean']} chars) | {b['embed_passages_per_s']} /s | |",
        f"| warm single question, end to end | p50 {q['total']['p50_ms']} ms, p95 {q['total']['p95_ms']} ms "
        "| p50 ≤ 8 ms, p95 ≤ 15 ms |",
        f"| … query embedding | p50 {q['embed']['p50_ms']} ms, p95 {q['embed']['p95_ms']} ms | |",
        f"| … BM25 (passages + sentences) | p50 {q['bm25']['p50_ms']} ms, p95 {q['bm25']['p95_ms']} ms | |",
        f"| … FAISS + sentence vectors | p50 {q['dense']['p50_ms']} ms, p95 {q['dense']['p95_ms']} ms | |",
        f"| … fusion + answer extraction | p50 {q['fusion']['p50_ms']} ms, p95 {q['fusion']['p95_ms']} ms | |",
        f"| batch `ask --questions`, {batch['questions']} different questions: answering rate "
        f"(as the command reports it) | {batch['cli_answering_q_per_s']} q/s | ≥ 300 q/s |",
        f"| … the same, whole command including start-up | {batch['cli_q_per_s']} q/s "
        f"({batch['cli_wall_s']} s) | |",
        f"| batch in one process (`search_many`) | {batch['in_process_q_per_s']} q/s | |",
    ]


def _backends_table(r: dict) -> list[str]:
    if not r.get("backends"):
        return []
    lines = [
        "", "## Model backends (query embedding)", "",
        f"Retrieval metrics on `{r['backends_eval_file']}` with each backend; a speed-up that changes the "
        "numbers must stay within 0.01 of fp32 on every metric.", "",
        "| backend | single question p50 / p95 | batch, per question | hit@1 | hit@3 | sentence@1 | refusal "
        "| false refusal | same vector alone and in a batch | within 0.01 of fp32 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for b in r["backends"]:
        lines.append(f"| {b['backend']} | {b['p50_ms']} / {b['p95_ms']} ms | {b['batch_ms_per_q']} ms | "
                     f"{b['hit@1']} | {b['hit@3']} | {b['sentence@1']} | {b['refusal']} | "
                     f"{b['false_refusal']} | {'yes' if b['batch_independent'] else 'no'} | "
                     f"{'yes' if b['within_0.01'] else 'no'} |")
    return lines


def _scale_table(r: dict) -> list[str]:
    lines = [
        "", "## Scale (synthetic corpus)", "",
        "| passages | FAISS exact: build, p50 / p95 | approximate (HNSW): build, p50 / p95, recall@10 "
        "| BM25: build, p50 / p95 | RSS serving (peak) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in r["scale"]:
        e, a, m = s["exact"], s["approx"], s["bm25"]
        lines.append(f"| {s['passages']:,} | {e['build_s']} s, {e['p50_ms']} / {e['p95_ms']} ms | "
                     f"{a['build_s']} s, {a['p50_ms']} / {a['p95_ms']} ms, {a['recall_at_10']} | "
                     f"{m['build_s']} s, {m['p50_ms']} / {m['p95_ms']} ms | "
                     f"{s['serving_rss_mb']} MB ({s['peak_rss_mb']} MB) |")
    return lines


def _whole_index_table(r: dict) -> list[str]:
    wholes = [s["whole"] for s in r["scale"] if "whole" in s]
    if not wholes:
        return []
    lines = [
        "", "## A whole index at scale, asked end to end (synthetic)", "",
        "Written by the index's own writers (`benchmarks.scale.synthetic_index`), then served in a fresh process "
        "as `pudong-qa ask` serves it; each question answered with `Searcher.search` (top 3). Serving "
        "memory is resident memory after the questions (the process's own / index files it maps).", "",
        "| passages (sentences) | write | on disk | load | question p50 / p95 | of which BM25 / dense / "
        "fusion / embedding (p50) | RSS serving (own / mapped) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for w in wholes:
        a, wr = w["ask"], w["write"]
        lines.append(f"| {w['passages']:,} ({wr['sentences']:,}) | {wr['write_s']} s | {wr['disk_gb']} GB | "
                     f"{a['load_s']} s | {a['total']['p50_ms']} / {a['total']['p95_ms']} ms | "
                     f"{a['bm25']['p50_ms']} / {a['dense']['p50_ms']} / {a['fusion']['p50_ms']} / "
                     f"{a['embed']['p50_ms']} ms | {a['rss_mb']} MB ({a['anon_mb']} / {a['file_mb']} MB) |")
    return lines


def to_markdown(r: dict, command: str) -> str:
    """The figures of ``bench.run`` as a Markdown page; ``command`` is how they were measured."""
    lines = [
        "# Benchmarks", "",
        f"Measured with `{command}` on {r['machine']['cpus']} CPU cores ({r['machine']['platform']}, "
        f"Python {r['machine']['python']}). Medians of repeated runs; cold starts are separate processes.", "",
        *_report_table(r), *_backends_table(r), *_scale_table(r), *_whole_index_table(r),
    ]
    return "\n".join(lines) + "\n"
