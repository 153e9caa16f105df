#!/usr/bin/env bash
# testssl.sh (Debian's package) against a standalone Meridian edge with an ECDSA P-256 (or RSA 2048)
# certificate from a local CA (given to testssl with --add-ca, so the chain counts as trusted) that
# names a local OCSP responder (`openssl ocsp`, started here, so the edge staples its answer), with
# --hsts-max-age set, then a summary: protocols and ciphers offered, and every finding of severity
# LOW or above.
#
#   bash bench/tls/testssl.sh [rsa|ecdsa]
#
# Env: RUN_DIR /tmp/meridian-testssl, PORT 9444, ORIGIN_PORT 9401, OCSP_PORT 9402. Takes about a minute.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KEY=${1:-ecdsa}
RUN=${RUN_DIR:-/tmp/meridian-testssl}
PORT=${PORT:-9444}
ORIGIN_PORT=${ORIGIN_PORT:-9401}
OCSP_PORT=${OCSP_PORT:-9402}
command -v testssl > /dev/null || { echo "bench/tls: testssl is missing (apt-get install testssl.sh)" >&2; exit 1; }
. "$REPO/scripts/node24.sh"
. "$REPO/scripts/deps.sh"
rm -rf "$RUN" && mkdir -p "$RUN"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done; wait 2> /dev/null || true; }
trap cleanup EXIT
node "$REPO/bench/tls/make-certs.ts" "$RUN" "http://127.0.0.1:$OCSP_PORT/"
openssl ocsp -index "$RUN/index.txt" -port "$OCSP_PORT" -rsigner "$RUN/ca.pem" -rkey "$RUN/ca.key" \
  -CA "$RUN/ca.pem" -nmin 60 -ignore_err > "$RUN/ocsp.log" 2>&1 & PIDS+=($!)
ORIGIN_PORT=$ORIGIN_PORT node "$REPO/bench/tls/origin.mjs" & PIDS+=($!)
node "$REPO/src/cli/main.ts" edge --origin "http://127.0.0.1:$ORIGIN_PORT" --listen 127.0.0.1:0 \
  --listen-tls "127.0.0.1:$PORT" --tls-cert "$RUN/$KEY.pem" --tls-key "$RUN/$KEY.key" \
  --cache-dir "$RUN/cache" --node-name testssl --hsts-max-age 31536000 > "$RUN/edge.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 100); do curl -sk -o /dev/null "https://127.0.0.1:$PORT/obj" && break; sleep 0.2; done
# The first handshakes start the OCSP fetch; wait until a staple is served.
for _ in $(seq 1 50); do
  openssl s_client -connect "127.0.0.1:$PORT" -status < /dev/null 2> /dev/null | grep -q 'OCSP Response Status: successful' && break
  sleep 0.2
done
testssl --quiet --color 0 --warnings off --add-ca "$RUN/ca.pem" --jsonfile "$RUN/testssl.json" \
  "https://127.0.0.1:$PORT/obj" > "$RUN/testssl.txt" 2>&1 || true
node - "$RUN/testssl.json" "$KEY" <<'JS'
const [file, key] = process.argv.slice(2);
const findings = JSON.parse(require('node:fs').readFileSync(file, 'utf8'));
const by = (id) => findings.find((f) => f.id === id)?.finding ?? '?';
const counts = {};
for (const f of findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
console.log(`testssl ${by('version') === '?' ? '' : by('version')} against a Meridian edge (${key} certificate):`);
for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1', 'TLS1_2', 'TLS1_3', 'ALPN_HTTP2', 'PFS', 'PFS_ECDHE_curves', 'cipher_order', 'OCSP_stapling', 'HSTS_time', 'cipherlist_NULL', 'cipherlist_aNULL', 'cipherlist_EXPORT', 'cipherlist_LOW', 'cipherlist_3DES_IDEA', 'cipherlist_AVERAGE', 'cipherlist_STRONG'])
  console.log(`  ${id.padEnd(22)} ${by(id)}`);
console.log(`  severities: ${Object.entries(counts).map(([s, n]) => `${s} ${n}`).join(', ')}`);
const bad = findings.filter((f) => ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].includes(f.severity));
if (bad.length === 0) console.log('  no finding of severity LOW or above');
for (const f of bad) console.log(`  ${f.severity.padEnd(8)} ${f.id}: ${f.finding}`);
JS
echo "(full report: $RUN/testssl.txt)"
