#!/usr/bin/env bash
# Stampede (thundering herd) test: N concurrent GETs, each on its own connection, all started in
# the same tick, for one cold /slow/ URL whose origin answers after SLOW_MS (200 ms), through
# nginx (1 worker, proxy_cache_lock on), ATS (1 thread, the tuned collapse settings) and
# Meridian, in one run. Reports the origin requests for that URL (1 = fully collapsed) and the
# waiters' latency. Uses bench/kit/stampede.mjs and origin.mjs.
# Methodology: server pinned to CPU 1, origin and the client on CPU 0; each server
# started cold; every repetition uses a fresh URL.
#
#   bench/stampede.sh                 # N=1000, 3 repetitions per server: about 1 minute
#   bench/stampede.sh -n 200 -r 1     # the kit's size, once
#   SLOW_MS=1000 bench/stampede.sh -c meridian-1w
#
# Options: -n N concurrent requests (1000) | -r REPS (3)
#          -c CONFIGS (origin-direct,nginx-1w,ats-1w,meridian-1w; origin-direct = the same burst
#             straight to the origin, no cache: N origin requests, the latency floor of client + origin)
#          -t TIMEOUT_MS per request (15000) | -q SECONDS to wait at most for a quiet machine (60; 0 = no)
#          -o DIR results folder
# Also reported: the listen queue (backlog) the server asked for, and the kernel's ListenOverflows /
# ListenDrops counters during the burst (a full accept queue drops SYNs; the client retries after 1 s).
# Needs: nginx trafficserver curl taskset (apt). Only 127.0.0.1 is contacted; every process it
# starts is recorded by PID and stopped by PID on exit.
set -uo pipefail
# shellcheck source=bench/edge-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/edge-lib.sh"

N=1000
REPS=3
TIMEOUT_MS=15000
RESULTS=""
QUIET_WAIT=60
ALL_CONFIGS="origin-direct nginx-1w ats-1w meridian-1w"
CONFIGS=$ALL_CONFIGS
SLOW_MS=${SLOW_MS:-200}

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while getopts "n:r:c:t:q:o:h" opt; do
  case $opt in
    n) N=$OPTARG ;;
    r) REPS=$OPTARG ;;
    c) CONFIGS=${OPTARG//,/ } ;;
    t) TIMEOUT_MS=$OPTARG ;;
    q) QUIET_WAIT=$OPTARG ;;
    o) RESULTS=$OPTARG ;;
    h) usage 0 ;;
    *) usage 2 ;;
  esac
done
[[ $N =~ ^[0-9]+$ && $N -ge 1 && $N -le 5000 ]] || die "-n must be 1..5000"
[[ $REPS =~ ^[0-9]+$ && $REPS -ge 1 && $REPS -le 10 ]] || die "-r must be 1..10"
[[ $QUIET_WAIT =~ ^[0-9]+$ && $QUIET_WAIT -le 600 ]] || die "-q must be 0..600 seconds"
[[ $TIMEOUT_MS =~ ^[0-9]+$ && $TIMEOUT_MS -ge 1000 && $TIMEOUT_MS -le 60000 ]] || die "-t must be 1000..60000 ms"
for c in $CONFIGS; do [[ " $ALL_CONFIGS " == *" $c "* ]] || die "unknown config '$c' (one of: $ALL_CONFIGS)"; done
RESULTS=${RESULTS:-$RUN_DIR/results/stampede-$(date +%Y%m%d-%H%M%S)}

for tool in nginx traffic_server traffic_layout curl taskset setsid ss; do
  command -v "$tool" > /dev/null || die "$tool not found (apt-get install nginx trafficserver curl)"
done
(( $(nproc) >= 2 )) || die "needs 2 CPUs (server on CPU $PROXY_CPU, client on CPU $LOAD_CPU)"
# N client sockets + N server sockets + upstream ones: raise the descriptor limit for this shell and
# everything it starts (the servers inherit it).
want=$((4 * N + 1024))
hard=$(ulimit -Hn)
[[ $hard == unlimited ]] || (( hard >= want )) || die "ulimit -Hn is $hard; $want descriptors needed for N=$N"
ulimit -n "$want" 2> /dev/null || die "could not raise ulimit -n to $want"
use_node24
meridian_deps

begin_run
check_ports_free "$ORIGIN_PORT" "$NGINX_PORT" "$ATS_PORT" "$MERIDIAN_PORT" "$MERIDIAN_ADMIN_PORT"
mkdir -p "$RESULTS"
wait_quiet "$QUIET_WAIT"
versions > "$RESULTS/versions.txt"
echo "quiet check: $QUIET_NOTE" >> "$RESULTS/versions.txt"
echo "slow_ms: $SLOW_MS; N: $N; reps: $REPS" >> "$RESULTS/versions.txt"
log "results: $RESULTS"
start_origin

# tcpext NAME: a TcpExt counter from /proc/net/netstat.
tcpext() {
  awk -v k="$1" '/^TcpExt:/ {if (!h) {for (i = 1; i <= NF; i++) n[i] = $i; h = 1} else {for (i = 1; i <= NF; i++) if (n[i] == k) print $i}}' /proc/net/netstat
}

RAW=$RESULTS/raw.tsv
printf 'config\trep\turl\torigin_hits\tok\tnon200\tms_min\tms_p50\tms_p90\tms_max\tlisten_overflows\tlisten_drops\tcache\thot_ms_p50\thot_ms_max\thot_non200\n' > "$RAW"

# fields JSON: stampede.mjs's output as "ok|non200|min|p50|p90|max|cache" ('|' so empty fields survive read).
fields() {
  "$N24" -e '
    const r = JSON.parse(process.argv[1]);
    const ok = (r.statuses || {})["200"] || 0;
    const cache = Object.entries(r.cache || {}).map(([k, v]) => `${k}:${v}`).join(" ");
    console.log([ok, r.n - ok, r.ms_min ?? "", r.ms_p50 ?? "", r.ms_p90 ?? "", r.ms_max ?? "", cache].join("|"));
  ' "$1" 2> /dev/null || echo "0|$N|||||client failed"
}
STATUS=$RESULTS/status.tsv
: > "$STATUS"

for cfg in $CONFIGS; do
  log "=== $cfg"
  if [[ $cfg == origin-direct ]]; then
    PEER_PID=""; PEER_PORT=$ORIGIN_PORT
  elif ! start_peer "$cfg"; then
    log "$cfg failed to start; see $RUN_DIR/$cfg/"
    [[ -n $PEER_PID ]] && stop_pid "$PEER_PID" 15
    printf '%s\t%s\t%s\n' "$cfg" "did not start" "-" >> "$STATUS"
    continue
  fi
  backlog=$(ss -Hltn "sport = :$PEER_PORT" | awk '{print $3}' | sort -u | tr '\n' ' ')
  log "  pid $PEER_PID port $PEER_PORT listen backlog ${backlog% }"
  printf '%s\t%s\t%s\n' "$cfg" "ok" "${backlog% }" >> "$STATUS"
  for ((rep = 1; rep <= REPS; rep++)); do
    path=/slow/stampede-$cfg-$rep-$(date +%s%N)
    origin_reset
    o0=$(tcpext ListenOverflows); d0=$(tcpext ListenDrops)
    out=$(taskset -c "$LOAD_CPU" timeout $((TIMEOUT_MS / 1000 + 45)) "$N24" "$BENCH_DIR/stampede.mjs" \
      "http://127.0.0.1:$PEER_PORT$path" "$N" "$TIMEOUT_MS")
    o1=$(tcpext ListenOverflows); d1=$(tcpext ListenDrops)
    hits=$(origin_hits "$path")
    printf '%s\n' "$out" > "$RESULTS/stampede-$cfg-$rep.json"
    # The same burst again on the URL, now cached: the client + server floor without the wait.
    hot=$(taskset -c "$LOAD_CPU" timeout $((TIMEOUT_MS / 1000 + 45)) "$N24" "$BENCH_DIR/stampede.mjs" \
      "http://127.0.0.1:$PEER_PORT$path" "$N" "$TIMEOUT_MS")
    printf '%s\n' "$hot" > "$RESULTS/stampede-$cfg-$rep-hot.json"
    IFS='|' read -r ok bad mn p50 p90 mx cache <<< "$(fields "$out")"
    IFS='|' read -r _ hbad _ hp50 _ hmx _ <<< "$(fields "$hot")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$rep" "$path" "$hits" "$ok" "$bad" \
      "$mn" "$p50" "$p90" "$mx" "$((o1 - o0))" "$((d1 - d0))" "$cache" "$hp50" "$hmx" "$hbad" >> "$RAW"
    log "  rep $rep: origin saw $hits of $N; listen overflows +$((o1 - o0)); $out"
    log "  rep $rep, same burst on the cached URL: $hot"
    sleep 1
  done
  [[ -n $PEER_PID ]] && stop_pid "$PEER_PID" 15
done

# --- report ------------------------------------------------------------------------------------
col() { awk -F'\t' -v c="$1" -v name="$2" 'NR==1 {for (i=1;i<=NF;i++) if ($i==name) k=i; next} $1==c {print $k}' "$RAW"; }
label() {
  case $1 in
    origin-direct) echo "(reference) origin direct, no cache, origin on CPU $LOAD_CPU" ;;
    nginx-1w) echo "nginx proxy_cache, 1 worker (cache_lock on)" ;;
    ats-1w) echo "ATS, 1 exec thread (kit's collapse settings)" ;;
    meridian-1w) echo "Meridian edge" ;;
  esac
}
{
  echo
  echo "$N concurrent GETs (one connection each) for one cold /slow/ URL, origin delay $SLOW_MS ms; $REPS repetitions, a fresh URL each;"
  echo "server on CPU $PROXY_CPU, origin and client on CPU $LOAD_CPU. Latency of the requests answered 200, per repetition."
  echo
  echo "Last columns: the same burst repeated at once on the URL, now cached (for origin-direct: uncached again): the"
  echo "latency floor of $N new connections through that server, without the collapse wait."
  echo
  echo "| server | origin requests for the URL (per rep) | p50 ms (median of reps) | p90 ms | max ms (median; worst) | non-200 | listen backlog | listen overflows / drops | same burst, cached: p50 / max ms |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for cfg in $CONFIGS; do
    st=$(awk -F'\t' -v c="$cfg" '$1==c {print $2"\t"$3}' "$STATUS")
    if [[ ${st%%$'\t'*} != ok ]]; then
      echo "| $(label "$cfg") | pending (${st%%$'\t'*}) | - | - | - | - | - | - | - |"
      continue
    fi
    hits=$(col "$cfg" origin_hits | paste -sd/)
    p50=$(col "$cfg" ms_p50 | grep . | median); p90=$(col "$cfg" ms_p90 | grep . | median)
    mx=$(col "$cfg" ms_max | grep . | median); worst=$(col "$cfg" ms_max | grep . | sort -g | tail -1)
    bad=$(col "$cfg" non200 | awk '{s+=$1} END {print s+0}')
    ov=$(col "$cfg" listen_overflows | awk '{s+=$1} END {print s+0}'); dr=$(col "$cfg" listen_drops | awk '{s+=$1} END {print s+0}')
    hp50=$(col "$cfg" hot_ms_p50 | grep . | median); hmx=$(col "$cfg" hot_ms_max | grep . | median)
    hbad=$(col "$cfg" hot_non200 | awk '{s+=$1} END {print s+0}')
    hot="${hp50:--} / ${hmx:--}"; (( hbad > 0 )) && hot+=" ($hbad non-200)"
    echo "| $(label "$cfg") | $hits | ${p50:--} | ${p90:--} | ${mx:--}; ${worst:--} | $bad / $((N * REPS)) | ${st#*$'\t'} | $ov / $dr | $hot |"
  done
} | tee "$RESULTS/table.md"
echo
cat "$RESULTS/versions.txt"
log "raw data: $RAW; stampede JSON: $RESULTS/stampede-*.json"
