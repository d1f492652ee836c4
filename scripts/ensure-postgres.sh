#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries are on this machine; the tests start and
# stop their own throwaway server from them.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null; then
  exit 0
fi
echo "PostgreSQL not found; installing it with apt-get…"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq postgresql >/dev/null
# The package may start a cluster of its own; the tests don't use it.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
