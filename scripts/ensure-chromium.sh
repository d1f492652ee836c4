#!/usr/bin/env bash
# Makes sure Debian's Chromium is on this machine: the approval page is tested in it,
# headless. Test tools cannot download their own browser here.
set -euo pipefail
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  exit 0
fi
echo "Chromium not found; installing Debian's chromium with apt-get…"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
