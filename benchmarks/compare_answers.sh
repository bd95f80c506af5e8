#!/usr/bin/env bash
# compare_answers.sh A B   (two OUT folders of same_answers.sh, e.g. $MEASURE_DIR/base $MEASURE_DIR/new)
# Byte-compares every answer file, score and question list; dev.metrics.json is compared
# without its batch_wall_s (a timing). Exit 0 only when everything is identical.
set -uo pipefail
A=$1 B=$2 bad=0
for f in "$A"/*.jsonl "$A"/*.score.json "$A"/questions/*.txt; do
    r=${f#"$A"/}
    if [ ! -f "$B/$r" ]; then echo "MISSING in B: $r"; bad=1
    elif cmp -s "$f" "$B/$r"; then echo "same     $r"
    else echo "DIFFERS  $r ($(diff <(cat "$f") <(cat "$B/$r") | grep -c '^<') lines of A changed)"; bad=1; fi
done
for f in "$B"/*.jsonl "$B"/*.score.json "$B"/questions/*.txt; do
    [ -f "$A/${f#"$B"/}" ] || { echo "MISSING in A: ${f#"$B"/}"; bad=1; }
done
strip() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("batch_wall_s",None); print(json.dumps(d,sort_keys=True))' "$1"; }
if [ "$(strip "$A/dev.metrics.json")" = "$(strip "$B/dev.metrics.json")" ]; then echo "same     dev.metrics.json (without batch_wall_s)"
else echo "DIFFERS  dev.metrics.json"; diff <(strip "$A/dev.metrics.json") <(strip "$B/dev.metrics.json"); bad=1; fi
[ $bad = 0 ] && echo "IDENTICAL" || echo "NOT IDENTICAL"
exit $bad
