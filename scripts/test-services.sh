# Sourced by scripts/test.sh: makes sure what the tests talk to is here, on a fresh machine too.
# PostgreSQL and NATS JetStream serve the distributed-mode tests, kdig asks the GeoDNS tests'
# questions. A service that is down is started (or installed from Debian's packages), never skipped.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.2; done; return 1; }
apt_install() {
  command -v apt-get >/dev/null || return 1
  [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq && APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! port_open 5432; then
  echo "test: PostgreSQL is not answering on 5432; starting it"
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  version=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 5432 || { echo "test: PostgreSQL did not start" >&2; exit 1; }
fi
psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1 ||
  psql -h 127.0.0.1 -U postgres -c 'create database test' >/dev/null

if ! port_open 4222; then
  echo "test: NATS is not answering on 4222; starting it with JetStream"
  command -v nats-server >/dev/null || apt_install nats-server
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_port 4222 || { echo "test: NATS did not start" >&2; exit 1; }
fi

# Redis: the edge's rate limits across a PoP (test/integration/security.test.ts).
if ! port_open 6379; then
  echo "test: Redis is not answering on 6379; starting it"
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port 6379 || { echo "test: Redis did not start" >&2; exit 1; }
fi

if ! command -v kdig >/dev/null; then
  echo "test: installing kdig (knot-dnsutils) for the GeoDNS tests"
  apt_install knot-dnsutils
fi

# The TLS tests: pebble (the ACME test CA, with pebble-challtestsrv for its DNS), nginx (an origin that
# requires the client certificate), openssl (s_client, the OCSP responder) and curl (HTTP/2 over TLS).
missing=()
command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null || missing+=(pebble)
command -v nginx >/dev/null || missing+=(nginx)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test: installing ${missing[*]} for the TLS tests"
  apt_install "${missing[@]}"
fi

# The anycast lab tests (test/integration/anycast*.test.ts): BIRD 2 (the BGP routers and PoP
# speakers) and nftables (connection tracking on the lab's routers). They need root to make network
# namespaces; without root they are skipped and say why.
missing=()
command -v bird >/dev/null && command -v birdc >/dev/null || missing+=(bird2)
command -v nft >/dev/null || missing+=(nftables)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  echo "test: installing ${missing[*]} for the anycast lab tests"
  apt_install "${missing[@]}"
fi

# The dashboard's end-to-end test (test/integration/dashboard-e2e.test.ts): playwright-core drives
# Debian's chromium at /usr/bin/chromium.
if [ ! -x /usr/bin/chromium ]; then
  echo "test: installing chromium for the dashboard's browser test"
  apt_install chromium
fi
