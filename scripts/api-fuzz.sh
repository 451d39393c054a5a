#!/usr/bin/env bash
# make api-fuzz: schemathesis (PyPI) against a real orchestrator's /openapi.json, once per role.
# Fails on any 5xx, on a response that does not match the document (status, content type,
# schema), and on an undocumented method not answered 405 with a matching `Allow`.
# API_FUZZ_EXAMPLES (default 50) bounds the examples per operation, API_FUZZ_SECONDS (default 120)
# the time per role; API_FUZZ_ROLES, API_FUZZ_PHASES and API_FUZZ_EXCLUDE (a regex of paths left
# out) narrow the run (`make test` ends with a one-minute smoke: see the Makefile). A claim
# long-polls up to 60 s, hence the 70 s request timeout.
set -euo pipefail
bin=$(cd "${1:-.build/debug}" && pwd)
work=$(mktemp -d /tmp/wu-api-fuzz.XXXXXX)
port=$((20000 + RANDOM % 20000))
examples=${API_FUZZ_EXAMPLES:-50}
roles=${API_FUZZ_ROLES:-requester runner admin}
phases=${API_FUZZ_PHASES:-examples,coverage,fuzzing,stateful}
command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"; }
"$bin/wu-orchestrator" serve --data-dir "$work/data" --listen "127.0.0.1:$port" --max-failed-auth-per-minute 100000 \
  >"$work/orchestrator.log" 2>&1 &
server=$!
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
status=0
for role in $roles; do
  token=$("$bin/wu-orchestrator" token create --role "$role" --name "fuzz-$role" --data-dir "$work/data")
  echo "== schemathesis as $role"
  schemathesis run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,unsupported_method,allow_header_conformance \
    --phases "$phases" ${API_FUZZ_EXCLUDE:+--exclude-path-regex "$API_FUZZ_EXCLUDE"} --max-examples "$examples" --max-time "${API_FUZZ_SECONDS:-120}" --request-timeout 70 \
    || status=1
done
grep -q " 500 \|error: internal" "$work/orchestrator.log" && { echo "the orchestrator logged a 500"; status=1; }
exit $status
