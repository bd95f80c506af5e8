#!/usr/bin/env bash
# What the Dockerfile does, without a container engine (none runs on these machines):
#   1. build the wheel; 2. install it into a clean virtualenv (torch==2.13.0 first, then the wheel,
#   no test extras); 3. check every import the package makes is a declared dependency;
#   4. convert the model into an empty cache (as the image build does); 5. add a user and a key;
#   6. serve a fresh copy of the corpus with sign-in required, wait for /healthz, then check the
#   page and the API refuse without credentials, answer with a key, sign in with a password, and
#   answer Dify's /retrieval; 7. `pudong-qa ask` from the same install; 8. `pudong-qa mcp` over stdio.
# Each step's time is printed and written to test-artifacts/install-check.json. CI runs it after
# `make test` (.ci/run). KEEP=1 keeps the work folder.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKOUT=$(pwd)
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pudong-qa-install.XXXXXX")
VENV=$WORK/venv
SERVER_PID=""
declare -a TIMES=()

cleanup() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill "$SERVER_PID"; wait "$SERVER_PID" || true; fi
	if [ "${KEEP:-0}" = 1 ]; then echo "work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

STARTED=$(date +%s.%N)
LAST=$STARTED
step_done() {  # name: record the seconds since the previous step
	local now; now=$(date +%s.%N)
	local secs; secs=$(awk -v a="$LAST" -v b="$now" 'BEGIN{printf "%.1f", b-a}')
	TIMES+=("\"$1\": $secs")
	echo "== $1: ${secs} s"
	LAST=$now
}

echo "== building the wheel in $WORK/dist from what the Dockerfile copies (pyproject.toml, README.md, src/)"
mkdir -p "$WORK/src"
cp -r "$CHECKOUT/pyproject.toml" "$CHECKOUT/README.md" "$CHECKOUT/src" "$WORK/src/"
find "$WORK/src" \( -name __pycache__ -o -name "*.egg-info" \) -prune -exec rm -rf {} +
"$PY" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$WORK/src" 2> >(grep -v "^WARNING: Location" >&2)
step_done wheel

echo "== a clean virtualenv: torch==2.13.0 (CPU) first, then the wheel without test extras"
"$PY" -m venv "$VENV"
quiet() { "$@" 2> >(grep -v "^WARNING: Location .* is ignored" >&2); }  # this machine's pip config is chatty
quiet "$VENV/bin/pip" install --quiet --upgrade pip
quiet "$VENV/bin/pip" install --quiet torch==2.13.0
quiet "$VENV/bin/pip" install --quiet "$WORK"/dist/pudong_qa-*.whl
"$VENV/bin/pip" check
if "$VENV/bin/python" -c "import pytest" 2>/dev/null; then echo "pytest is installed: the test extras leaked in"; exit 1; fi
step_done install

"$VENV/bin/python" "$CHECKOUT/scripts/check_imports.py"
step_done imports

# the Dockerfile's own model step, word for word (tests/test_packaging.py checks they are the same)
MODEL_STEP=$(sed -n 's/^RUN python -c "\(.*\)" *# model$/\1/p' "$CHECKOUT/Dockerfile")
[ -n "$MODEL_STEP" ] || { echo "no model step (RUN python -c \"…\"  # model) in the Dockerfile"; exit 1; }
SITE=$WORK/site
mkdir -p "$SITE"
cp -r "$CHECKOUT/corpus" "$SITE/corpus"
export PUDONG_QA_ROOT=$SITE PUDONG_QA_CACHE=$WORK/cache HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
unset PUDONG_QA_INDEX PUDONG_QA_CORPUS PUDONG_QA_DATA_DIR PUDONG_QA_HOST PUDONG_QA_PORT
cd "$SITE"
echo "== converting the model into an empty cache (the image build's step)"
"$VENV/bin/python" -c "$MODEL_STEP"
step_done model

echo "== a user and a key"
echo "install-check-password" | "$VENV/bin/pudong-qa" users add admin --role editor --password-stdin
KEY=$("$VENV/bin/pudong-qa" keys add dify --role reader 2>/dev/null)
step_done accounts

PORT=$("$VENV/bin/python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
echo "== serving on 127.0.0.1:$PORT with sign-in required (as the container does on 0.0.0.0)"
"$VENV/bin/pudong-qa" serve --port "$PORT" --require-signin >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
URL=http://127.0.0.1:$PORT PID=$SERVER_PID "$VENV/bin/python" - <<'EOF' || { cat "$WORK/serve.log"; exit 1; }
import os, time, urllib.request
url, pid = os.environ["URL"], int(os.environ["PID"])
deadline = time.time() + 600
while True:
    try:
        urllib.request.urlopen(url + "/healthz", timeout=2)
        break
    except OSError:
        try:  # gone, or a zombie not yet reaped by this script
            alive = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            alive = False
        if not alive:
            raise SystemExit("the server exited before answering /healthz")
        if time.time() > deadline:
            raise SystemExit("the server did not answer /healthz within 600 s")
        time.sleep(0.5)
EOF
step_done serve-start

echo "== page and API: refused without credentials, answered with a key and after signing in"
URL=http://127.0.0.1:$PORT KEY=$KEY "$VENV/bin/python" - <<'EOF'
import http.cookiejar, json, os, urllib.error, urllib.parse, urllib.request
url, key = os.environ["URL"], os.environ["KEY"]

def call(path, body=None, headers=None, opener=urllib.request.build_opener()):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with opener.open(req, timeout=60) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()

for path in ("/", "/api/status", "/docs", "/gradio_api/info"):
    assert call(path)[0] == 401, path
status, text = call("/api/ask", {"question": "管办评 是什么"}, {"Authorization": f"Bearer {key}"})
answer = json.loads(text)
assert status == 200 and answer["answered"] and answer["verdict"] == "answered", text[:300]
status, text = call("/retrieval", {"knowledge_id": "corpus", "query": "管办评 是什么",
                                   "retrieval_setting": {"top_k": 2, "score_threshold": 0.5}},
                    {"Authorization": f"Bearer {key}"})
records = json.loads(text)["records"]
assert status == 200 and records and 0 <= records[0]["score"] <= 1, text[:300]
jar = http.cookiejar.CookieJar()
browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
form = urllib.parse.urlencode({"username": "admin", "password": "install-check-password"}).encode()
status, page = call("/login", form, {"Content-Type": "application/x-www-form-urlencoded"}, browser)
assert status == 200 and "gradio" in page.lower(), page[:300]
status, text = call("/api/whoami", None, None, browser)
assert json.loads(text) == {"name": "admin", "role": "editor"}, text
print("page, API and Dify answered:", answer["results"][0]["answer"][:40])
EOF
step_done serve-answer
kill "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""
if grep -q -e "install-check-password" -e "$KEY" "$WORK/serve.log" "$SITE/data/audit.jsonl"; then
	echo "a password or key reached a log"; exit 1; fi

echo "== pudong-qa ask from the same install"
"$VENV/bin/pudong-qa" ask "管办评 是什么" --format jsonl -k 1 | "$VENV/bin/python" -c \
	"import json, sys; r = json.loads(sys.stdin.read()); assert r['answered'], r; print('ask answered:', r['results'][0]['answer'][:40])"
step_done ask

echo "== pudong-qa mcp over stdio"
PQA="$VENV/bin/pudong-qa" "$VENV/bin/python" - <<'EOF'
import asyncio, os
from mcp import Client
from mcp.client.stdio import StdioServerParameters

async def main():
    async with Client(StdioServerParameters(command=os.environ["PQA"], args=["mcp"], env=dict(os.environ))) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        assert {"ask", "list_documents"} <= tools, tools
        result = await c.call_tool("ask", {"question": "管办评 是什么", "top_k": 1})
        assert result.structured_content["answered"], result
        print("mcp answered:", result.structured_content["results"][0]["answer"][:40])

asyncio.run(main())
EOF
step_done mcp

TOTAL=$(awk -v a="$STARTED" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
mkdir -p "$CHECKOUT/test-artifacts"
( IFS=,; echo "{${TIMES[*]}, \"total\": $TOTAL}" ) >"$CHECKOUT/test-artifacts/install-check.json"
echo "install check passed in ${TOTAL} s: $(cat "$CHECKOUT/test-artifacts/install-check.json")"
