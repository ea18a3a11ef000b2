#!/usr/bin/env bash
# The Python example against a real collector: start `lineage-ledger serve` on loopback (free
# port, bearer token), record a run with examples/python/record_reference.py (standard library
# only), stop the server with SIGTERM (it must exit 0), then export the run, verify the export,
# and check that every expanded token carries its expand_group_id.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "== python3 not found: the Python example is skipped"; exit 0; }
work=$(mktemp -d -t ll-py.XXXXXX)
server=
trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
store="sqlite:$work/py.db"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/token"
node dist/src/cli/main.js serve --store "$store" --listen 127.0.0.1:0 --token-file "$work/token" 2> "$work/server.log" &
server=$!
for _ in $(seq 1 100); do grep -q '^listening on ' "$work/server.log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/server.log" | head -1)
[ -n "$url" ] || { cat "$work/server.log"; echo "the collector did not start"; exit 1; }
echo "== collector $url"
start=$(date +%s)
run_id=$(python3 examples/python/record_reference.py --url "$url" --token-file "$work/token" --rows 200 --batch 50)
echo "== python3 recorded run $run_id (200 rows) in $(( $(date +%s) - start ))s through the collector"
kill -TERM "$server"
wait "$server" && echo "== the collector stopped on SIGTERM with exit 0" || { cat "$work/server.log"; echo "the collector did not exit 0"; exit 1; }
server=
node dist/src/cli/main.js export --store "$store" --run "$run_id" --out "$work/py.jsonl"
node dist/src/cli/main.js verify "$work/py.jsonl" --no-signature --json > "$work/verify.json"
python3 - "$work/py.jsonl" "$work/verify.json" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
report = json.load(open(sys.argv[2]))
assert report["ok"], report
tokens = [r for r in records if r.get("record_type") == "token"]
outcomes = {r["token_id"]: r for r in records if r.get("record_type") == "token_outcome" and r.get("outcome") == "expanded"}
expanded_parents = set(outcomes)
children = [t for t in tokens if t.get("expand_group_id") is not None]
assert len(expanded_parents) == 200, len(expanded_parents)
assert len(children) == 400, len(children)
groups = {o["expand_group_id"] for o in outcomes.values()}
assert all(t["expand_group_id"] in groups for t in children)
print(f"== export verifies: {len(records)} records; all {len(children)} expanded tokens carry expand_group_id")
PY
