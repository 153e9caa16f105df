#!/usr/bin/env bash
# GeoDNS throughput and latency: one `meridian dns` process beside Knot DNS (knotd, one UDP worker)
# serving the same names and answers, both on CPU 1, measured with dnsperf on CPU 0, on loopback.
#
#   bench/dns/dnsperf.sh [-l SECONDS] [-z ZONES] [-Q RATE] [-c CLIENTS] [-q OUTSTANDING]
#
#   -l  length of each dnsperf run (default 10 s; every run is bounded by it)
#   -z  zones, one label each (default 100)
#   -Q  offered load for the latency runs, queries/s (default 20000)
#   -c  dnsperf clients (source ports) (default 8); -q queries outstanding at most (default 100)
#
# Per server: a throughput run (as fast as it answers, -q outstanding), a latency run at the fixed
# rate -Q with every response time recorded (dnsperf -v) for p50/p99/max, and a TCP throughput run.
# Meridian has one more row: every query with an EDNS Client Subnet option (8.8.8.0/24, a GeoIP
# lookup in the bundled DB-IP database and an ECS echo per answer).
# Needs: dnsperf, knotd, kdig, taskset (Debian: apt-get install dnsperf knot knot-dnsutils util-linux).
# Everything it starts is stopped by PID when it exits. Results: stdout and $RUN_DIR/results.md.
set -euo pipefail
LIMIT=10 ZONES=100 RATE=20000 CLIENTS=8 OUTSTANDING=100
while getopts l:z:Q:c:q: opt; do
  case $opt in
    l) LIMIT=$OPTARG ;; z) ZONES=$OPTARG ;; Q) RATE=$OPTARG ;; c) CLIENTS=$OPTARG ;; q) OUTSTANDING=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN_DIR=${RUN_DIR:-${TMPDIR:-/tmp}/meridian-bench-dns}
CONTROL_PORT=${CONTROL_PORT:-18870} HEALTH_PORT=${HEALTH_PORT:-18871}
MERIDIAN_PORT=${MERIDIAN_PORT:-18853} KNOT_PORT=${KNOT_PORT:-18854}
SERVER_CPU=${SERVER_CPU:-1} LOAD_CPU=${LOAD_CPU:-0}
ZONE=cdn.example.net

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for tool in dnsperf knotd kdig taskset; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install dnsperf knot knot-dnsutils util-linux)"
done
cd "$ROOT"
# shellcheck source=/dev/null
. scripts/node24.sh >/dev/null
# shellcheck source=/dev/null
. scripts/deps.sh

rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR/knot"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# start NAME CPU CMD...: in the background, pinned, output to $RUN_DIR/NAME.log; PID recorded.
start() {
  local name=$1 cpu=$2; shift 2
  taskset -c "$cpu" "$@" >"$RUN_DIR/$name.log" 2>&1 </dev/null &
  PIDS+=($!)
}
wait_for() { # wait_for WHAT CMD...: up to 30 s
  local what=$1 deadline=$((SECONDS + 30)); shift
  while ((SECONDS < deadline)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "$what did not come up (logs in $RUN_DIR)"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

TOKEN="mrd_bench_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
log "control plane (SQLite) and a health endpoint for the nodes, on CPU $LOAD_CPU"
MERIDIAN_ADMIN_TOKEN=$TOKEN start control "$LOAD_CPU" node bin/meridian.mjs control \
  --listen "127.0.0.1:$CONTROL_PORT" --db "sqlite:$RUN_DIR/meridian.db" --node-stale 10m \
  --api-rate 100000 --api-burst 100000
start health "$LOAD_CPU" node -e \
  "require('node:http').createServer((q, s) => s.end('ok')).listen($HEALTH_PORT, '127.0.0.1')"
wait_for "control plane" port_open "$CONTROL_PORT"
wait_for "health endpoint" port_open "$HEALTH_PORT"
node bench/dns/setup.ts --control "http://127.0.0.1:$CONTROL_PORT" --token "$TOKEN" \
  --health "http://127.0.0.1:$HEALTH_PORT" --zones "$ZONES" --out "$RUN_DIR" >&2

log "meridian dns on CPU $SERVER_CPU"
start meridian "$SERVER_CPU" node bin/meridian.mjs dns --listen "127.0.0.1:$MERIDIAN_PORT" \
  --control "http://127.0.0.1:$CONTROL_PORT" --token "$TOKEN" --zone "$ZONE" \
  --default-location 40.73,-73.99 --ns "ns1.$ZONE=127.0.0.1"
MERIDIAN_PID=${PIDS[-1]}
wait_for "meridian dns" bash -c "kdig @127.0.0.1 -p $MERIDIAN_PORT +time=1 +retry=0 +short www-customer1-com.$ZONE A | grep -q 127.0.1"

log "knotd (1 UDP worker, 1 TCP worker) on CPU $SERVER_CPU"
cat >"$RUN_DIR/knot.conf" <<CONF
server:
    rundir: "$RUN_DIR/knot"
    listen: 127.0.0.1@$KNOT_PORT
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "$RUN_DIR/knot"
template:
  - id: default
    storage: "$RUN_DIR"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: $ZONE
    file: "$ZONE.zone"
CONF
start knot "$SERVER_CPU" knotd -c "$RUN_DIR/knot.conf"
wait_for "knotd" bash -c "kdig @127.0.0.1 -p $KNOT_PORT +time=1 +retry=0 +short www-customer1-com.$ZONE A | grep -q 127.0.1"

# Both give the same answer for the same question (the comparison is fair).
for port in "$MERIDIAN_PORT" "$KNOT_PORT"; do
  kdig @127.0.0.1 -p "$port" +short "www-customer7-com.$ZONE" A | sort | tr '\n' ' ' >>"$RUN_DIR/same.txt"
  echo >>"$RUN_DIR/same.txt"
done
[[ $(sort -u "$RUN_DIR/same.txt" | wc -l) == 1 ]] || die "the servers answer differently: $(cat "$RUN_DIR/same.txt")"

# throughput PORT MODE [dnsperf args...] → "qps lost%"
throughput() {
  local port=$1 mode=$2; shift 2
  taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$port" -m "$mode" -d "$RUN_DIR/queries.txt" -l "$LIMIT" \
    -c "$CLIENTS" -q "$OUTSTANDING" "$@" >"$RUN_DIR/last.txt" 2>&1 || true
  awk '/Queries per second/ {q=$4} /Queries lost/ {l=$4; gsub(/[()]/, "", l)} END {printf "%.0f %s\n", q, l}' "$RUN_DIR/last.txt"
}
# latency PORT [dnsperf args...] → "p50_ms p99_ms max_ms answered" at $RATE queries/s
latency() {
  local port=$1; shift
  # Written to a file and read after the run: a pipe would run awk and sort beside the server.
  taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$RUN_DIR/queries.txt" -l "$LIMIT" -c "$CLIENTS" \
    -q "$OUTSTANDING" -Q "$RATE" -v "$@" >"$RUN_DIR/verbose.txt" 2>/dev/null || true
  awk '$1 == ">" && $NF ~ /^[0-9.]+$/ {print $NF * 1000}' "$RUN_DIR/verbose.txt" | sort -n >"$RUN_DIR/latency.txt"
  rm -f "$RUN_DIR/verbose.txt"
  awk '{v[NR]=$1} END {if (NR == 0) {print "- - - 0"; exit}
    i50=int(NR*0.50); if (i50<1) i50=1; i99=int(NR*0.99); if (i99<1) i99=1;
    printf "%.3f %.3f %.3f %d\n", v[i50], v[i99], v[NR], NR}' "$RUN_DIR/latency.txt"
}

ECS=(-E 8:00011800080808) # EDNS Client Subnet 8.8.8.0/24
rows=()
for server in meridian knot; do
  port=$MERIDIAN_PORT; [[ $server == knot ]] && port=$KNOT_PORT
  log "$server: UDP throughput ($LIMIT s)"
  read -r qps lost < <(throughput "$port" udp)
  log "$server: UDP latency at $RATE q/s ($LIMIT s)"
  read -r p50 p99 max n < <(latency "$port")
  log "$server: TCP throughput ($LIMIT s)"
  read -r tqps tlost < <(throughput "$port" tcp)
  name=$([[ $server == knot ]] && echo "Knot DNS $(knotd --version | awk '{print $NF}'), 1 UDP + 1 TCP worker" || echo "meridian dns (one Node 24 process)")
  rows+=("| $name | $qps | $lost | $p50 | $p99 | $max | $tqps |")
  if [[ $server == meridian ]]; then
    log "meridian: UDP with ECS 8.8.8.0/24 (GeoIP lookup + ECS echo per query)"
    read -r eqps elost < <(throughput "$port" udp "${ECS[@]}")
    read -r ep50 ep99 emax en < <(latency "$port" "${ECS[@]}")
    rows+=("| meridian dns, every query with ECS (GeoIP) | $eqps | $elost | $ep50 | $ep99 | $emax | – |")
    MERIDIAN_RSS=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$MERIDIAN_PID/status" 2>/dev/null || echo '?')
  fi
done

{
  echo "## GeoDNS: meridian dns beside Knot DNS ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)$([[ -z $(git status --porcelain -- src/dns) ]] || echo ', src/dns uncommitted'))"
  echo
  echo "\`bench/dns/dnsperf.sh -l $LIMIT -z $ZONES -Q $RATE -c $CLIENTS -q $OUTSTANDING\`: servers on CPU $SERVER_CPU, dnsperf $(dnsperf -H 2>&1 | awk '/^Version/ {print $2}') on CPU $LOAD_CPU, loopback,"
  echo "$ZONES names + SOA + NXDOMAIN in the query mix, 2 A records per answer. Latency at $RATE q/s offered;"
  echo "throughput with $OUTSTANDING queries outstanding. Meridian's RSS after the runs: ${MERIDIAN_RSS:-?} MiB (GeoIP database included)."
  echo
  echo "| server | UDP q/s | lost | p50 ms | p99 ms | max ms | TCP q/s |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee "$RUN_DIR/results.md"
