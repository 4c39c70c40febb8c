#!/usr/bin/env bash
# Runs every benchmark (docs/benchmarks.md says what and why) and writes the figures into
# docs/benchmarks.md. Installs what it needs and is missing: wrk and PostgreSQL's server binaries.
# Takes about 10 minutes. Arguments go to the harness, e.g. --only read --reps 5 --duration 10.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  [ $apt_updated = 1 ] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

command -v wrk >/dev/null || { echo "== installing wrk"; apt_install wrk || echo "wrk could not be installed: the harness falls back to its in-process load generator"; }
command -v sqlite3 >/dev/null || { echo "== installing sqlite3 (the Hub benchmark writes its 10,000 tasks with it)"; apt_install sqlite3; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "== installing PostgreSQL"; apt_install postgresql; }

echo "== building (Release)"
dotnet build -c Release bench/Proofsheet.Bench --nologo -v quiet
# The start-up benchmark also measures the app as docs/deploy.md says to deploy it: published with ReadyToRun.
echo "== publishing the app (ReadyToRun) to bench/.published"
dotnet publish src/Proofsheet -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
  -o bench/.published --nologo -v quiet
echo "== running"
exec dotnet bench/Proofsheet.Bench/bin/Release/net10.0/Proofsheet.Bench.dll "$@"
