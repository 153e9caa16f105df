#!/usr/bin/env bash
# Edge cache-HIT benchmark: Meridian beside plain Node and its peers (nginx, Apache Traffic Server,
# Varnish), with one worker and with two, in one run. Self-contained: the peers' configurations are
# bench/peers/, the origin and helpers bench/kit/ (see bench/edge-lib.sh); Debian's packages suffice.
# For each configuration: start cold, warm each object (3 GETs, the 2nd and 3rd must be cache HITs
# and the origin must have seen the path once), a 2 s unrecorded wrk warm-up, then REPS wrk runs of
# DURATION s for the 1 KiB and the 100 KiB object; medians, with p99 at -c CONNS.
#
# Pinning (taskset, reported per run): wrk -t1 and the origin on LOAD_CPU (0). A 1-worker server on
# PROXY_CPU (1); a 2-worker server on both CPUs, so on a 2-CPU machine it shares CPU 0 with wrk.
#
#   origin-node24  plain Node 24 node:http answering from memory (bench/kit/origin.mjs) measured
#                  directly (re-pinned to CPU 1 for its runs): the ceiling for a Node server on one core
#   nginx-1w/2w    nginx proxy_cache, worker_processes 1 / 2              (bench/peers/nginx.conf)
#   ats-1w/2w      Apache Traffic Server, 1 / 2 exec threads, tuned       (bench/peers/ats/)
#   varnish-1w/2w  Varnish, malloc storage, 1 / 2 thread pools            (bench/peers/varnish.vcl)
#   meridian-1w/2w ./meridian edge --workers 1 / 2 --origin http://127.0.0.1:9000 --listen 127.0.0.1:8005
#
#   bench/edge-hit.sh                 # 10 s x 3 runs each: about 10 minutes
#   bench/edge-hit.sh -d 3 -r 1       # quick look: about 2 minutes
#   bench/edge-hit.sh -c nginx-1w,meridian-1w
#
# Options: -d SECONDS per wrk run (10) | -r REPS (3) | -n CONNS (64) | -c CONFIGS (comma list)
#          -q SECONDS to wait at most for a quiet machine before starting (60; 0 = do not wait)
#          -R RETRIES: runs during which other processes used > 25% of a core are discarded and run
#             again, at most RETRIES times in all (4); what is left noisy is flagged under the table
#          -o DIR results folder (${RUN_DIR}/results/edge-hit-<time>)
# Prints a markdown table, then per worker count the ratios Meridian / best peer (req/s) and
# Meridian / nginx (p99), and 2 workers / 1 worker, all from this run. Env: see bench/edge-lib.sh.
# Needs: nginx varnish trafficserver wrk curl taskset (apt). Only 127.0.0.1 is contacted. Everything
# it starts is recorded by PID and stopped by PID on exit.
set -uo pipefail
# shellcheck source=bench/edge-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/edge-lib.sh"

DURATION=10
REPS=3
CONNS=64
RESULTS=""
QUIET_WAIT=60
RETRIES_LEFT=4
NOISY_PCT=25     # runs during which everything else used more CPU than this (% of a core) are flagged
ALL_CONFIGS="origin-node24 $PEER_CONFIGS"
CONFIGS=$ALL_CONFIGS

usage() { sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while getopts "d:r:n:c:q:R:o:h" opt; do
  case $opt in
    d) DURATION=$OPTARG ;;
    r) REPS=$OPTARG ;;
    n) CONNS=$OPTARG ;;
    c) CONFIGS=${OPTARG//,/ } ;;
    q) QUIET_WAIT=$OPTARG ;;
    R) RETRIES_LEFT=$OPTARG ;;
    o) RESULTS=$OPTARG ;;
    h) usage 0 ;;
    *) usage 2 ;;
  esac
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 60 ]] || die "-d must be 1..60 seconds"
[[ $REPS =~ ^[0-9]+$ && $REPS -ge 1 && $REPS -le 10 ]] || die "-r must be 1..10"
[[ $QUIET_WAIT =~ ^[0-9]+$ && $QUIET_WAIT -le 600 ]] || die "-q must be 0..600 seconds"
[[ $RETRIES_LEFT =~ ^[0-9]+$ && $RETRIES_LEFT -le 20 ]] || die "-R must be 0..20"
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 1 && $CONNS -le 1000 ]] || die "-n must be 1..1000"
for c in $CONFIGS; do [[ " $ALL_CONFIGS " == *" $c "* ]] || die "unknown config '$c' (one of: $ALL_CONFIGS)"; done
RESULTS=${RESULTS:-$RUN_DIR/results/edge-hit-$(date +%Y%m%d-%H%M%S)}
CONNS_HINT=$CONNS

for tool in nginx varnishd traffic_server traffic_layout wrk curl taskset setsid ss; do
  command -v "$tool" > /dev/null || die "$tool not found (apt-get install nginx varnish trafficserver wrk curl)"
done
(( $(nproc) >= 2 )) || die "needs 2 CPUs (server on CPU $PROXY_CPU, load on CPU $LOAD_CPU)"
use_node24
meridian_deps
ulimit -n "$(ulimit -Hn)" 2> /dev/null || true

begin_run
check_ports_free "$ORIGIN_PORT" "$NGINX_PORT" "$VARNISH_PORT" "$ATS_PORT" "$MERIDIAN_PORT" "$MERIDIAN_ADMIN_PORT"
mkdir -p "$RESULTS"
wait_quiet "$QUIET_WAIT"
versions > "$RESULTS/versions.txt"
echo "quiet check: $QUIET_NOTE" >> "$RESULTS/versions.txt"
log "results: $RESULTS"

RAW=$RESULTS/raw.tsv
printf 'config\tobject\trep\trps\tp50_us\tp90_us\tp99_us\tmax_us\terrors\tnon2xx\torigin_requests\tproxy_cpu_pct\twrk_cpu_pct\tother_cpu_pct\n' > "$RAW"
head -n 1 "$RAW" > "$RESULTS/discarded.tsv"
DISCARDED=$RESULTS/discarded.tsv   # runs set aside as noisy
STATUS=$RESULTS/status.tsv     # config \t warm check \t note
: > "$STATUS"

start_origin

# run_wrk CONFIG OBJECT REP URL PID: one measured wrk run, appended to raw.tsv; PID's process tree is
# the server whose CPU is counted.
run_wrk() {
  local cfg=$1 obj=$2 rep=$3 url=$4 tree=$5
  local out=$RESULTS/wrk-$cfg-$obj-$rep.txt timef=$RESULTS/.time before_o after_o t0 t1 b0 b1 line
  before_o=$(origin_total)
  b0=$(busy_ticks); t0=$(cpu_ticks "$tree")
  local TIMEFORMAT='%3R %3U %3S'
  { time timeout $((DURATION + 30)) taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency \
      -s "$BENCH_DIR/wrk-report.lua" "$url" > "$out" 2>&1; } 2> "$timef"
  t1=$(cpu_ticks "$tree"); b1=$(busy_ticks)
  after_o=$(origin_total)
  line=$(grep '^RESULT' "$out") || { log "wrk printed no RESULT for $cfg $obj (see $out)"; return 1; }
  local rps p50 p90 p99 max errs non2xx wall usr sys proxy_cpu wrk_cpu other_cpu
  rps=$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<< "$line")
  p50=$(sed -n 's/.* p50_us=\([0-9]*\).*/\1/p' <<< "$line")
  p90=$(sed -n 's/.* p90_us=\([0-9]*\).*/\1/p' <<< "$line")
  p99=$(sed -n 's/.* p99_us=\([0-9]*\).*/\1/p' <<< "$line")
  max=$(sed -n 's/.* max_us=\([0-9]*\).*/\1/p' <<< "$line")
  errs=$(awk '{s=0; for (i=1;i<=NF;i++) if ($i ~ /^err_(connect|read|write|timeout)=/) {split($i,a,"="); s+=a[2]} print s}' <<< "$line")
  non2xx=$(sed -n 's/.* err_status=\([0-9]*\).*/\1/p' <<< "$line")
  read -r wall usr sys < "$timef"
  proxy_cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v s="$DURATION" 'BEGIN {printf "%.0f", 100*d/hz/s}')
  wrk_cpu=$(awk -v u="$usr" -v y="$sys" -v w="$wall" 'BEGIN {printf "%.0f", 100*(u+y)/w}')
  other_cpu=$(awk -v b=$((b1 - b0)) -v p=$((t1 - t0)) -v hz="$CLK_TCK" -v u="$usr" -v y="$sys" -v w="$wall" \
    'BEGIN {o = 100*((b-p)/hz - u - y)/w; if (o < 0) o = 0; printf "%.0f", o}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$obj" "$rep" "$rps" "$p50" "$p90" "$p99" "$max" \
    "$errs" "${non2xx:-0}" $((after_o - before_o)) "$proxy_cpu" "$wrk_cpu" "$other_cpu" >> "$RAW"
  log "  $cfg $obj run $rep: $rps req/s p50 ${p50}us p99 ${p99}us errors $errs non-2xx ${non2xx:-0} origin+$((after_o - before_o)) server cpu ${proxy_cpu}% wrk cpu ${wrk_cpu}% other ${other_cpu}%"
}

# warm_check CONFIG BASE OBJECT: 3 GETs; the 2nd and 3rd must be HITs, the origin must have seen the
# path once. Prints "HIT (tag)" or "NOT HIT (...)".
warm_check() {
  local cfg=$1 base=$2 obj=$3 path=/obj/$3/edge-$1 h1 h2 h3 n
  h1=$(get_headers "$base$path"); h2=$(get_headers "$base$path"); h3=$(get_headers "$base$path")
  printf '### GET 1\n%s\n### GET 2\n%s\n### GET 3\n%s\n' "$h1" "$h2" "$h3" > "$RESULTS/warm-$cfg-$obj.txt"
  n=$(origin_hits "$path")
  if is_hit <<< "$h2" && is_hit <<< "$h3" && [[ $n == 1 ]]; then
    echo "HIT ($(cache_tag <<< "$h3"))"
  else
    echo "NOT HIT ($(cache_tag <<< "$h3"); origin saw $n)"
  fi
}

# measure CONFIG BASE PID: warm + verify, warm-up, REPS runs, for each object.
measure() {
  local cfg=$1 base=$2 pid=$3
  local obj rep verdict warm="" url
  for obj in 1k 100k; do
    url=$base/obj/$obj/edge-$cfg
    if [[ $cfg == origin-* ]]; then
      verdict="n/a (origin)"
      curl -s -o /dev/null "$url"
    else
      verdict=$(warm_check "$cfg" "$base" "$obj")
    fi
    log "  warm $obj: $verdict"
    warm+="$obj: $verdict; "
    # Warm-up run (not recorded): fills RAM caches, JITs, opens connections.
    timeout 30 taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d2s "$url" > /dev/null 2>&1
    for ((rep = 1; rep <= REPS; rep++)); do
      run_wrk "$cfg" "$obj" "$rep" "$url" "$pid" || continue
      # Other people's work on the machine during the run: set it aside and run again (bounded).
      local other; other=$(tail -n 1 "$RAW" | cut -f14)
      if (( other > NOISY_PCT && RETRIES_LEFT > 0 )); then
        RETRIES_LEFT=$((RETRIES_LEFT - 1))
        tail -n 1 "$RAW" >> "$DISCARDED"; sed -i '$d' "$RAW"
        log "  other processes used ${other}% of a core during that run: discarded, run again ($RETRIES_LEFT retries left)"
        wait_quiet 10 || true
        rep=$((rep - 1))
      fi
    done
  done
  printf '%s\t%s\t%s\n' "$cfg" "${warm%; }" "affinity: $(affinity_report "$pid")" >> "$STATUS"
}

for cfg in $CONFIGS; do
  log "=== $cfg"
  origin_reset
  case $cfg in
    origin-node24)
      repin "$ORIGIN_PID" "$PROXY_CPU"
      measure "$cfg" "http://127.0.0.1:$ORIGIN_PORT" "$ORIGIN_PID"
      repin "$ORIGIN_PID" "$LOAD_CPU"
      ;;
    *)
      if ! start_peer "$cfg"; then
        log "$cfg failed to start; see $RUN_DIR/$cfg/"
        [[ -n $PEER_PID ]] && stop_pid "$PEER_PID" 15
        printf '%s\t%s\t%s\n' "$cfg" "did not start" "see $RUN_DIR/$cfg/stdout.log" >> "$STATUS"
        continue
      fi
      log "  pid $PEER_PID port $PEER_PORT"
      measure "$cfg" "http://127.0.0.1:$PEER_PORT" "$PEER_PID"
      tree=$(tree_pids "$PEER_PID")
      stop_pid "$PEER_PID" 15
      for p in $tree; do alive "$p" && log "  pid $p of $cfg outlived it"; done
      ;;
  esac
done

# --- report ------------------------------------------------------------------------------------
col() {
  awk -F'\t' -v c="$1" -v o="$2" -v name="$3" 'NR==1 {for (i=1;i<=NF;i++) if ($i==name) k=i; next}
    $1==c && $2==o {print $k}' "$RAW"
}
sum_col() { col "$@" | awk '{s+=$1} END {print s+0}'; }
# per_core CONFIG OBJECT: req/s per core the server used (rps x 100 / server cpu%), one per run. On a
# machine others keep busy a server gets what the scheduler leaves it; this is what each core it got
# bought, comparable across servers in the same run.
per_core() {
  awk -F'\t' -v c="$1" -v o="$2" 'NR==1 {for (i=1;i<=NF;i++) {if ($i=="rps") r=i; if ($i=="proxy_cpu_pct") p=i}; next}
    $1==c && $2==o && $p > 0 {printf "%.0f\n", $r*100/$p}' "$RAW"
}
spread_pct() { sort -g | awk '{a[NR]=$1} END {if (NR<2 || a[1]==0) print "-"; else printf "%.0f%%", 100*(a[NR]-a[1])/a[1]}'; }
ms() { [[ -z $1 ]] && { echo -; return; }; awk -v v="$1" 'BEGIN {printf "%.2f", v/1000}'; }
ratio() { [[ -z $1 || -z $2 ]] && { echo pending; return; }; awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
label() {
  case $1 in
    origin-node24) echo "plain Node 24 node:http (ceiling, 1 core)" ;;
    nginx-1w) echo "nginx proxy_cache, 1 worker" ;;
    nginx-2w) echo "nginx proxy_cache, 2 workers" ;;
    ats-1w) echo "ATS, 1 exec thread" ;;
    ats-2w) echo "ATS, 2 exec threads" ;;
    varnish-1w) echo "Varnish, 1 CPU (1 thread pool)" ;;
    varnish-2w) echo "Varnish, 2 CPUs (2 thread pools)" ;;
    meridian-1w) echo "Meridian edge --workers 1" ;;
    meridian-2w) echo "Meridian edge --workers 2" ;;
  esac
}
declare -A RPS PC
{
  echo
  echo "wrk -t1 -c$CONNS -d${DURATION}s, median of $REPS runs; wrk and origin pinned to CPU $LOAD_CPU; 1-worker servers pinned to CPU $PROXY_CPU, 2-worker servers to CPUs $LOAD_CPU,$PROXY_CPU (sharing CPU $LOAD_CPU with wrk); cache HITs only."
  echo "\\* = wrk used >= 95% of its core in the median run set: the figure is a floor for the server, not its limit."
  echo "server cpu = CPU% of the server's process tree (100 = one core); other = max CPU% of everything else (noise gauge)."
  echo
  echo "| server | 1 KiB req/s | p50 ms | p99 ms | spread | 100 KiB req/s | p50 ms | p99 ms | spread | req/s per core used 1k/100k | server cpu 1k/100k | wrk cpu 1k/100k | other cpu | errors / non-2xx / origin reqs during runs | warm check |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for cfg in $CONFIGS; do
    st=$(awk -F'\t' -v c="$cfg" '$1==c {print $2}' "$STATUS")
    if [[ -z $(col "$cfg" 1k rps) && -z $(col "$cfg" 100k rps) ]]; then
      echo "| $(label "$cfg") | pending | - | - | - | pending | - | - | - | - | - | - | - | ${st:-not run} |"
      continue
    fi
    cells=""
    for obj in 1k 100k; do
      r=$(col "$cfg" $obj rps | median); RPS[$cfg.$obj]=$r
      w=$(col "$cfg" $obj wrk_cpu_pct | median)
      star=""; [[ -n $w ]] && (( w >= 95 )) && star='\*'
      cells+="$(printf '%.0f' "${r:-0}")$star | $(ms "$(col "$cfg" $obj p50_us | median)") | $(ms "$(col "$cfg" $obj p99_us | median)") | $(col "$cfg" $obj rps | spread_pct) | "
    done
    PC[$cfg.1k]=$(per_core "$cfg" 1k | median); PC[$cfg.100k]=$(per_core "$cfg" 100k | median)
    cells+="${PC[$cfg.1k]:--}/${PC[$cfg.100k]:--} | "
    cpu="$(col "$cfg" 1k proxy_cpu_pct | median)%/$(col "$cfg" 100k proxy_cpu_pct | median)%"
    wcpu="$(col "$cfg" 1k wrk_cpu_pct | median)%/$(col "$cfg" 100k wrk_cpu_pct | median)%"
    other="$( (col "$cfg" 1k other_cpu_pct; col "$cfg" 100k other_cpu_pct) | sort -g | tail -1)%"
    errs="$(( $(sum_col "$cfg" 1k errors) + $(sum_col "$cfg" 100k errors) )) / $(( $(sum_col "$cfg" 1k non2xx) + $(sum_col "$cfg" 100k non2xx) )) / $(( $(sum_col "$cfg" 1k origin_requests) + $(sum_col "$cfg" 100k origin_requests) ))"
    [[ $cfg == origin-* ]] && errs="${errs% / *} / (is the origin)"
    echo "| $(label "$cfg") | $cells$cpu | $wcpu | $other | $errs | $st |"
  done
  echo
  declare -A P99
  for cfg in $CONFIGS; do for obj in 1k 100k; do P99[$cfg.$obj]=$(col "$cfg" $obj p99_us | median); done; done
  echo "Ratios from this run (req/s medians; > 1 means Meridian is faster; p99: < 1 means Meridian's tail is shorter):"
  echo
  echo "| ratio | 1 KiB | 100 KiB |"
  echo "|---|---|---|"
  for n in 1 2; do
    best=""; p99=""
    for obj in 1k 100k; do
      f=""; fn="-"
      for peer in nginx ats varnish; do
        r=${RPS[$peer-${n}w.$obj]:-}
        [[ -z $r ]] && continue
        if [[ -z $f ]] || awk -v r="$r" -v f="$f" 'BEGIN {exit !(r > f)}'; then f=$r; fn=$peer; fi
      done
      m=${RPS[meridian-${n}w.$obj]:-}
      if [[ -n $m && -n $f ]]; then best+="$(ratio "$m" "$f") (vs $fn-${n}w) | "; else best+="pending | "; fi
      p99+="$(ratio "${P99[meridian-${n}w.$obj]:-}" "${P99[nginx-${n}w.$obj]:-}") | "
    done
    echo "| Meridian ${n}w / best peer at ${n} worker(s) | ${best% | } |"
    eff=""
    for obj in 1k 100k; do
      f=""; fn="-"
      for peer in nginx ats varnish; do
        r=${PC[$peer-${n}w.$obj]:-}
        [[ -z $r ]] && continue
        if [[ -z $f ]] || awk -v r="$r" -v f="$f" 'BEGIN {exit !(r > f)}'; then f=$r; fn=$peer; fi
      done
      eff+="$(ratio "${PC[meridian-${n}w.$obj]:-}" "$f") (vs $fn-${n}w) | "
    done
    echo "| Meridian ${n}w / best peer at ${n} worker(s), req/s per core used | ${eff% | } |"
    echo "| Meridian ${n}w p99 / nginx ${n}w p99 (c=$CONNS) | ${p99% | } |"
  done
  for peer in meridian nginx; do
    sc=""
    for obj in 1k 100k; do sc+="$(ratio "${RPS[$peer-2w.$obj]:-}" "${RPS[$peer-1w.$obj]:-}") | "; done
    echo "| $peer 2 workers / 1 worker (wrk shares a core with the 2w server) | ${sc% | } |"
  done
  node=""
  for obj in 1k 100k; do node+="$(ratio "${RPS[meridian-1w.$obj]:-}" "${RPS[origin-node24.$obj]:-}") | "; done
  echo "| Meridian 1w / plain Node 24 | ${node% | } |"
  noisy=$(awk -F'\t' -v t="$NOISY_PCT" 'NR>1 && $14 > t {print $1" "$2" run "$3" ("$14"%)"}' "$RAW" | paste -sd, | sed 's/,/, /g')
  if [[ -n $noisy ]]; then
    echo
    echo "**WARNING: other processes used more than ${NOISY_PCT}% of a core during: $noisy. Those figures are skewed;"
    echo "rerun on a quiet machine.**"
  fi
  nd=$(($(wc -l < "$DISCARDED") - 1))
  (( nd > 0 )) && { echo; echo "$nd noisy run(s) were discarded and run again (see discarded.tsv)."; }
} | tee "$RESULTS/table.md"
echo
cat "$RESULTS/versions.txt"
log "raw data: $RAW; warm-check headers: $RESULTS/warm-*.txt; affinity: $STATUS"
