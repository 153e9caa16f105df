#!/usr/bin/env bash
# TLS beside nginx, one core each (issue 13): full handshakes per second (ECDSA P-256 and RSA 2048),
# resumed handshakes per second, and HTTP/2 cache hits per second (h2load -c 64 -m 10). Both servers
# get the same certificate, object, protocols, ciphers and groups, run one at a time pinned to
# SERVER_CPU, with the load generator pinned to LOAD_CPU.
#
#   bash bench/tls/run.sh
#
# Two figures per row: the rate the clients saw, and the server's own CPU time per operation turned
# into operations per server core-second (from /proc/<pid>/stat of the server's process tree). The
# second is the server's capacity on one core even when the client, on its own single core, is what
# saturates first (ECDSA: the client's signature check costs more than the server's signature).
#
# Env: SERVER_CPU 1, LOAD_CPU 0, BENCH_SECONDS 10, CLIENTS 4 (parallel openssl s_time processes),
# SERVERS "nginx meridian", RUN_DIR /tmp/meridian-bench-tls, PORT 9443 (both servers, one after the other), ORIGIN_PORT 9400.
# Needs: nginx (Debian's, with http_v2 and ssl), openssl, h2load (nghttp2-client), taskset, curl.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN=${RUN_DIR:-/tmp/meridian-bench-tls}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
T=${BENCH_SECONDS:-10}
CLIENTS=${CLIENTS:-4}
PORT=${PORT:-9443}
ORIGIN_PORT=${ORIGIN_PORT:-9400}
for tool in nginx openssl h2load taskset curl; do
  command -v "$tool" > /dev/null || { echo "bench/tls: $tool is missing (apt-get install nginx openssl nghttp2-client util-linux curl)" >&2; exit 1; }
done
. "$REPO/scripts/node24.sh"
. "$REPO/scripts/deps.sh"
rm -rf "$RUN" && mkdir -p "$RUN"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done; wait 2> /dev/null || true; }
trap cleanup EXIT

node "$REPO/bench/tls/make-certs.ts" "$RUN"
ORIGIN_PORT=$ORIGIN_PORT taskset -c "$LOAD_CPU" node "$REPO/bench/tls/origin.mjs" & PIDS+=($!)

# cpu_ticks PID: utime + stime of PID and all its descendants, in clock ticks.
cpu_ticks() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" 2> /dev/null) $(for c in $(pgrep -P "$1" 2> /dev/null); do pgrep -P "$c"; done); do
    [[ -r /proc/$p/stat ]] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}
TICKS=$(getconf CLK_TCK)

wait_tls() {
  for _ in $(seq 1 200); do
    curl -sk --max-time 2 -o /dev/null "https://127.0.0.1:$PORT/obj" && return 0
    sleep 0.2
  done
  echo "bench/tls: the server did not answer on $PORT" >&2
  return 1
}

start_nginx() {
  sed -e "s|@RUN@|$RUN|g" -e "s|@PORT@|$PORT|g" -e "s|@ORIGIN_PORT@|$ORIGIN_PORT|g" -e "s|@KEY@|$1|g" \
    "$REPO/bench/tls/nginx.conf.in" > "$RUN/nginx.conf"
  rm -rf "$RUN/nginx-cache"
  taskset -c "$SERVER_CPU" nginx -c "$RUN/nginx.conf" -p "$RUN" -e "$RUN/nginx-error.log" & SERVER=$!
  PIDS+=("$SERVER")
}

start_meridian() {
  rm -rf "$RUN/meridian-cache"
  taskset -c "$SERVER_CPU" node "$REPO/src/cli/main.ts" edge --origin "http://127.0.0.1:$ORIGIN_PORT" \
    --listen 127.0.0.1:0 --listen-tls "127.0.0.1:$PORT" --tls-cert "$RUN/$1.pem" --tls-key "$RUN/$1.key" \
    --cache-dir "$RUN/meridian-cache" --node-name bench > "$RUN/meridian.log" 2>&1 & SERVER=$!
  PIDS+=("$SERVER")
}

stop_server() { kill "$SERVER" 2> /dev/null || true; wait "$SERVER" 2> /dev/null || true; sleep 0.5; }

# s_time_rate MODE: CLIENTS parallel `openssl s_time` (-new: full handshakes, -reuse: resumed), each
# fetching /obj on every connection (TLS 1.3 tickets arrive after the handshake: without reading a
# response s_time would never hold one to resume). Prints "<client rate> <per server core-second>".
s_time_rate() {
  local before after i total=0 t0 t1
  before=$(cpu_ticks "$SERVER")
  t0=$(date +%s.%N)
  for i in $(seq 1 "$CLIENTS"); do
    taskset -c "$LOAD_CPU" openssl s_time -connect "127.0.0.1:$PORT" "$1" -www /obj -time "$T" > "$RUN/stime.$i" 2>&1 &
  done
  wait_clients
  t1=$(date +%s.%N)
  after=$(cpu_ticks "$SERVER")
  for i in $(seq 1 "$CLIENTS"); do
    total=$((total + $(awk '/connections in .* real seconds/ {print $1; exit}' "$RUN/stime.$i")))
  done
  awk -v n="$total" -v t0="$t0" -v t1="$t1" -v c=$((after - before)) -v hz="$TICKS" \
    'BEGIN { printf "%.0f %.0f\n", n / (t1 - t0), (c > 0 ? n / (c / hz) : 0) }'
}
wait_clients() { while pgrep -f "openssl s_time -connect 127.0.0.1:$PORT" > /dev/null; do sleep 0.2; done; }

h2_rate() {
  local before after out
  taskset -c "$LOAD_CPU" h2load -c 64 -m 10 -D 2 "https://127.0.0.1:$PORT/obj" > /dev/null 2>&1 # warm-up
  before=$(cpu_ticks "$SERVER")
  out=$(taskset -c "$LOAD_CPU" h2load -c 64 -m 10 -D "$T" "https://127.0.0.1:$PORT/obj" 2>&1)
  after=$(cpu_ticks "$SERVER")
  echo "$out" > "$RUN/h2load.last"
  local rps ok
  rps=$(echo "$out" | awk '/^finished in/ {gsub(",", "", $4); print $4}')
  ok=$(echo "$out" | awk '/^status codes:/ {print $3}')
  awk -v r="$rps" -v t="$T" -v c=$((after - before)) -v hz="$TICKS" \
    'BEGIN { printf "%.0f %.0f\n", r, (c > 0 ? r * t / (c / hz) : 0) }'
  echo "  h2load: $(echo "$out" | grep -E '^requests:')" >&2
  [[ -n $ok ]] || echo "  h2load: no 2xx counted" >&2
}

declare -A R
for key in ecdsa rsa; do
  for server in ${SERVERS:-nginx meridian}; do
    "start_$server" "$key"
    wait_tls
    curl -sk -o /dev/null "https://127.0.0.1:$PORT/obj" # fill the cache
    R[$server.$key.full]=$(s_time_rate -new)
    R[$server.$key.resumed]=$(s_time_rate -reuse)
    if [[ $key == ecdsa ]]; then R[$server.h2]=$(h2_rate); fi
    echo "$server $key: full ${R[$server.$key.full]} resumed ${R[$server.$key.resumed]} ${R[$server.h2]:-}" >&2
    stop_server
  done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2fx" : "-"), a / b }'; }
row() {
  local label=$1 m=$2 n=$3
  read -r mc ms <<< "${m:-0 0}"
  read -r nc ns <<< "${n:-0 0}"
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$mc" "$nc" "$(ratio "$mc" "$nc")" "$ms" "$ns" "$(ratio "$ms" "$ns")"
}
echo
echo "TLS beside nginx: $(date -u +%FT%TZ), commit $(git -C "$REPO" rev-parse --short HEAD), $(nproc) CPUs, server on CPU $SERVER_CPU, load on CPU $LOAD_CPU, ${T}s per row, $CLIENTS s_time clients"
echo "$(node --version), $(nginx -v 2>&1), $(openssl version)"
echo
echo "| test | Meridian /s (client) | nginx /s (client) | ratio | Meridian per server core-s | nginx per server core-s | ratio |"
echo "|---|---|---|---|---|---|---|"
row "full handshakes, ECDSA P-256" "${R[meridian.ecdsa.full]:-}" "${R[nginx.ecdsa.full]:-}"
row "full handshakes, RSA 2048" "${R[meridian.rsa.full]:-}" "${R[nginx.rsa.full]:-}"
row "resumed handshakes (ECDSA cert)" "${R[meridian.ecdsa.resumed]:-}" "${R[nginx.ecdsa.resumed]:-}"
row "resumed handshakes (RSA cert)" "${R[meridian.rsa.resumed]:-}" "${R[nginx.rsa.resumed]:-}"
row "HTTP/2 hits, h2load -c 64 -m 10" "${R[meridian.h2]:-}" "${R[nginx.h2]:-}"
