#!/usr/bin/env bash
# Runs the official Meilisearch JavaScript client (scenario.mjs) against
# miroir's proxy handler over in-process meilitest fleets (./server).
# Installs the npm dependencies itself; needs node (>= 20.19) and npm and
# fails, loudly, without them.
#
#   test/js/run.sh            # fleets 1x1x3 and 2x2
#   test/js/run.sh 2x2        # one fleet
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

for tool in node npm go; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "FAIL: test/js needs '$tool' on PATH (the JavaScript client scenario cannot run without it)" >&2
    exit 1
  fi
done
echo "node $(node --version), npm $(npm --version)"

cd "$here"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/server" ./test/js/server)

fleets=("$@")
[ ${#fleets[@]} -eq 0 ] && fleets=(1x1x3 2x2)
for fleet in "${fleets[@]}"; do
  echo "== JavaScript client against the proxy over fleet $fleet"
  "$work/server" -fleet "$fleet" -master-key masterKey >"$work/url" 2>"$work/server.log" &
  server_pid=$!
  url=""
  for _ in $(seq 1 100); do
    url="$(head -n1 "$work/url" 2>/dev/null || true)"
    [ -n "$url" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "FAIL: the proxy server did not start" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  echo "proxy at $url"
  MEILI_HOST="$url" MEILI_KEY=masterKey node scenario.mjs
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  server_pid=""
done
