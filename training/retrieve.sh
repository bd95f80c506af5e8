#!/bin/bash
# Candidates for the reader's data: prepare each external set's folder (external_bench.py prepare),
# build its index and ask every question (top 10); then ask the report's training question sets
# (own, heldout, heldout2-5) over the report. heldout6/7 and the shared dev set are never asked here.
# Usage: bash training/retrieve.sh   (READER_SCRATCH=training/work, CLI=.venv/bin/pudong-qa by default)
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${READER_SCRATCH:-$ROOT/training/work}
CLI=${CLI:-$ROOT/.venv/bin/pudong-qa}
PY=${PY:-$ROOT/.venv/bin/python}
B=$ROOT/../shared/eval/external/external_bench.py
for s in cmrc-trial drcd-dev squad2-even; do
  D=$SCRATCH/ext/$s
  [ -f $D/gold.jsonl ] || $PY $B prepare $s $D
  if [ ! -f $D/index/manifest.json ]; then
    (cd $D && PUDONG_QA_ROOT=$D $CLI --corpus $D/corpus --index $D/index build)
  fi
  if [ ! -f $D/answers.jsonl ]; then
    (cd $D && PUDONG_QA_ROOT=$D $CLI --corpus $D/corpus --index $D/index ask --questions $D/questions.txt \
       --format jsonl --top-k 10 --output $D/answers.tmp && mv $D/answers.tmp $D/answers.jsonl)
  fi
done
R=$SCRATCH/report
mkdir -p $R
if [ ! -f $R/answers.jsonl ]; then
  $PY - "$R/questions.txt" "$ROOT/tests/data" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for name in ["own", "heldout", "heldout2", "heldout3", "heldout4", "heldout5"]:
        for line in open(f"{sys.argv[2]}/{name}_questions.jsonl", encoding="utf-8"):
            if line.strip():
                out.write(json.loads(line)["question"].replace("\n", " ") + "\n")
PYEOF
  (cd $ROOT && $CLI ask --questions $R/questions.txt --format jsonl --top-k 10 --output $R/answers.tmp \
     && mv $R/answers.tmp $R/answers.jsonl)
fi
echo retrieval done
