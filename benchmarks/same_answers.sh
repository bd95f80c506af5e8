#!/usr/bin/env bash
# same_answers.sh TREE OUT   (MEASURE_DIR=… set; see docs/benchmarks.md, "The same answers")
#
# Ask one pudong-qa tree (TREE/.venv/bin/pudong-qa) every measured question set, against the
# SAME prebuilt indexes (built once, with the baseline tree; see README.md), and keep the answers.
# Only `ask` is ever run: never `build`. Because `ask` silently rebuilds an index it considers
# stale, every index folder is checksummed before and after each ask; any change (or a
# "needs rebuilding" line on stderr) stops the script with an error (exit 3).
#
# Writes into OUT:
#   questions/NAME.txt            the questions asked, one a line (report sets)
#   report-NAME.jsonl             answers of the report sets: dev (shared/eval/dev_questions.jsonl)
#                                 and each TREE/tests/data/NAME_questions.jsonl
#   ext-SET.jsonl                 answers of the external sets (cmrc-trial, drcd-dev, squad2-even)
#   ext-SET.score.json            external_bench.py score --json of those answers
#   dev.metrics                   shared/eval/evaluate.py output (its last-but-one line is the JSON metrics)
#   dev.metrics.json              that JSON line alone
#   *.stderr                      what each command printed on stderr
#   timings.tsv                   wall seconds of each ask (also printed)
set -euo pipefail

if [ $# -ne 2 ]; then echo "usage: $0 TREE OUT" >&2; exit 2; fi
TREE=$(cd "$1" && pwd)
mkdir -p "$2"
OUT=$(cd "$2" && pwd)
M=${MEASURE_DIR:?set MEASURE_DIR: a folder holding report-root/, report-index/ and ext/SET/ (see docs/benchmarks.md)}
EVAL=${SHARED_EVAL:-$TREE/../shared/eval}
BENCH=$EVAL/external/external_bench.py
CLI=$TREE/.venv/bin/pudong-qa
PY=python3                        # evaluate.py and external_bench.py need only the standard library
REPORT_ROOT=$M/report-root        # fixed root holding a copy of corpus/: citation sources identical for every tree
REPORT_INDEX=$M/report-index
EXT_SETS=(cmrc-trial drcd-dev squad2-even)

[ -x "$CLI" ] || { echo "no $CLI (run make setup in $TREE)" >&2; exit 2; }

# No PUDONG_QA_* setting from the caller's shell may leak in: each command below sets its own.
for v in $(compgen -e | grep '^PUDONG_QA_' || true); do unset "$v"; done

mkdir -p "$OUT/questions"
printf 'what\tseconds\n' > "$OUT/timings.tsv"
echo "tree: $TREE ($(git -C "$TREE" rev-parse --short HEAD 2>/dev/null || echo '?'))  out: $OUT"
{ echo "tree=$TREE"; echo "commit=$(git -C "$TREE" rev-parse HEAD 2>/dev/null || echo '?')";
  echo "dirty=$(git -C "$TREE" status --porcelain 2>/dev/null | wc -l)"; echo "started=$(date -Is)";
  echo "pudong-qa=$("$CLI" --version 2>&1)"; } > "$OUT/run-info.txt"

# --- guards: the shared indexes must not change under an ask ------------------------------
index_sum() {  # one checksum over every file in an index folder
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}
check_index() {  # INDEX_DIR EXPECTED_SUM WHEN
    local now; now=$(index_sum "$1")
    if [ "$now" != "$2" ]; then
        echo "ERROR: index $1 changed $3 (was $2, now $now): the tree rebuilt it; restore it from the" \
             "baseline build (docs/benchmarks.md, \"The same answers\") before asking any other tree" >&2
        exit 3
    fi
}
no_rebuild() {  # STDERR_FILE
    if grep -qi 'needs rebuilding\|building …\|^Built ' "$1"; then
        echo "ERROR: ask rebuilt an index (see $1)" >&2; exit 3
    fi
}
timed() {  # LABEL STDERR_FILE CMD... ; runs CMD, records its wall time
    local label=$1 err=$2; shift 2
    local t0 t1 rc=0
    t0=$(date +%s.%N)
    "$@" 2> "$err" || rc=$?
    t1=$(date +%s.%N)
    local s; s=$(echo "$t1 - $t0" | bc)
    printf '%s\t%.1f\n' "$label" "$s" >> "$OUT/timings.tsv"
    printf '  %-28s %7.1f s   (%s)\n' "$label" "$s" "$(tail -n 1 "$err")"
    if [ $rc -ne 0 ]; then echo "ERROR: $label exited $rc; see $err" >&2; tail -n 20 "$err" >&2; exit $rc; fi
}

# --- the report --------------------------------------------------------------------------
[ -f "$REPORT_INDEX/manifest.json" ] || { echo "no report index at $REPORT_INDEX" >&2; exit 2; }
REPORT_SUM=$(index_sum "$REPORT_INDEX")
report_env=(env PUDONG_QA_ROOT="$REPORT_ROOT" PUDONG_QA_CORPUS="$REPORT_ROOT/corpus" PUDONG_QA_INDEX="$REPORT_INDEX")

to_txt() {  # JSONL -> TXT, the "question" field one a line
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
qs = [json.loads(l)["question"] for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
bad = [q for q in qs if "\n" in q or "\r" in q or not q.strip()]
if bad:
    sys.exit(f"{sys.argv[1]}: questions that cannot be one line: {bad[:3]}")
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(qs) + "\n")
EOF
}

names=(dev)
to_txt "$EVAL/dev_questions.jsonl" "$OUT/questions/dev.txt"
for f in "$TREE"/tests/data/*_questions.jsonl; do
    n=$(basename "$f" _questions.jsonl)
    to_txt "$f" "$OUT/questions/$n.txt"
    names+=("$n")
done

echo "report (root $REPORT_ROOT, index $REPORT_INDEX):"
cd "$REPORT_ROOT"
for n in "${names[@]}"; do
    timed "report-$n" "$OUT/report-$n.stderr" \
        "${report_env[@]}" "$CLI" ask --questions "$OUT/questions/$n.txt" --top-k 10 --format jsonl \
        --output "$OUT/report-$n.jsonl"
    no_rebuild "$OUT/report-$n.stderr"
    check_index "$REPORT_INDEX" "$REPORT_SUM" "during report-$n"
done

# --- dev-set metrics (evaluate.py has no --json: it prints one JSON line, then OK/FAIL) -----
echo "dev metrics (evaluate.py):"
mkdir -p "$OUT/tmp"
rc=0
t0=$(date +%s.%N)
TMPDIR="$OUT/tmp" "${report_env[@]}" "$PY" "$EVAL/evaluate.py" --cmd "$CLI" --root "$REPORT_ROOT" \
    > "$OUT/dev.metrics" 2> "$OUT/dev.metrics.stderr" || rc=$?
s=$(echo "$(date +%s.%N) - $t0" | bc)
printf 'evaluate-dev\t%.1f\n' "$s" >> "$OUT/timings.tsv"
rm -rf "$OUT/tmp"
grep '^{' "$OUT/dev.metrics" | tail -n 1 > "$OUT/dev.metrics.json" || true
printf '  %-28s %7.1f s   %s (exit %d)\n' evaluate-dev "$s" "$(tail -n 1 "$OUT/dev.metrics")" "$rc"
check_index "$REPORT_INDEX" "$REPORT_SUM" "during evaluate.py"

# --- external sets: as `external_bench.py run` asks (cwd TREE, PUDONG_QA_ROOT=DIR,
#     --corpus DIR/corpus --index DIR/index, --top-k 10), then its score --json ---------------
echo "external sets:"
cd "$TREE"
for S in "${EXT_SETS[@]}"; do
    D=$M/ext/$S
    if [ ! -f "$D/index/manifest.json" ]; then
        echo "  $S: no index at $D/index (not built): skipped" | tee -a "$OUT/skipped.txt"
        continue
    fi
    SUM=$(index_sum "$D/index")
    timed "ext-$S" "$OUT/ext-$S.stderr" \
        env PUDONG_QA_ROOT="$D" "$CLI" --corpus "$D/corpus" --index "$D/index" \
        ask --questions "$D/questions.txt" --format jsonl --top-k 10 --output "$OUT/ext-$S.jsonl"
    no_rebuild "$OUT/ext-$S.stderr"
    check_index "$D/index" "$SUM" "during ext-$S"
    "$PY" "$BENCH" score "$D" "$OUT/ext-$S.jsonl" --json > "$OUT/ext-$S.score.json"
    echo "    score: $(cat "$OUT/ext-$S.score.json")"
done

echo "finished=$(date -Is)" >> "$OUT/run-info.txt"
echo "done: $OUT"
