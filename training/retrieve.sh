#!/bin/bash
# Candidates for the reader's data: build each external set's index with the FROZEN CLI and ask every
# question (top 10), then ask the report question sets (own, heldout, heldout2-5) over the report.
# Usage: bash training/retrieve.sh   (SCRATCH=/work/reader, CLI=/work/base-cli by default)
set -e
SCRATCH=${READER_SCRATCH:-/work/reader}
CLI=${CLI:-/work/base-cli}
B=/work/shared/eval/external/external_bench.py
PY=${PY:-/work/main/.venv/bin/python}
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
# report sets, in reader_data.py's order (heldout6/7 are never read)
R=$SCRATCH/report
mkdir -p $R
if [ ! -f $R/answers.jsonl ]; then
  $PY - "$R/questions.txt" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for name in ["own", "heldout", "heldout2", "heldout3", "heldout4", "heldout5"]:
        for line in open(f"/work/main/tests/data/{name}_questions.jsonl", encoding="utf-8"):
            if line.strip():
                out.write(json.loads(line)["question"].replace("\n", " ") + "\n")
PYEOF
  (cd /work/base && $CLI ask --questions $R/questions.txt --format jsonl --top-k 10 --output $R/answers.tmp \
     && mv $R/answers.tmp $R/answers.jsonl)
fi
echo retrieval done
