# Source this file after node24.sh: installs the project's npm dependencies when node_modules is
# missing or older than package-lock.json (npm ci: exact versions from the lock file).
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ ! -f "$_root/node_modules/.package-lock.json" ] || [ "$_root/package-lock.json" -nt "$_root/node_modules/.package-lock.json" ]; then
  echo "meridian: installing dependencies (npm ci)" >&2
  (cd "$_root" && npm ci --no-audit --no-fund --loglevel=error >&2) || { echo "meridian: npm ci failed" >&2; return 1 2>/dev/null || exit 1; }
fi
unset _root
