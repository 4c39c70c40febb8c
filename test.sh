#!/usr/bin/env bash
# Runs every Proofsheet test. On a fresh machine it first installs what the tests need and is
# missing: the npm tools under tests/tools (s3rver, a real S3-compatible server; smtp-server, a real
# SMTP server for the email tests; axe-core for the
# browser tests; openapi-typescript, openapi-fetch, typescript and @redocly/cli for the
# generated-client and OpenAPI lint tests), PostgreSQL's server binaries (the integration tests
# start their own throwaway cluster), Chromium (the browser tests) and nginx (the multi-node test).
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  [ $apt_updated = 1 ] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# Installed again whenever the lock file changed since the last install (a stamp beside the modules).
if ! cmp -s tests/tools/package-lock.json tests/tools/node_modules/.installed-lock.json; then
  echo "== installing test tools (npm ci --prefix tests/tools)"
  npm ci --prefix tests/tools --no-audit --no-fund --loglevel=error
  cp tests/tools/package-lock.json tests/tools/node_modules/.installed-lock.json
fi

if [ -z "${PROOFSHEET_TEST_POSTGRES:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== installing PostgreSQL"
  apt_install postgresql
fi

# The browser tests drive Debian's Chromium; Playwright's own browser download is not used.
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Chromium"
  apt_install chromium
fi

# The multi-node test runs the project's deploy/nginx.conf in Debian's nginx.
if [ ! -x /usr/sbin/nginx ]; then
  echo "== installing nginx"
  apt_install nginx
  # The package starts a default server on port 80; the tests run their own.
  (service nginx stop || true) >/dev/null 2>&1
fi

mkdir -p test-artifacts
log=test-artifacts/test-output.log
echo "== dotnet test"
set +e
dotnet test Proofsheet.slnx --logger "console;verbosity=minimal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One plain closing line over all test assemblies. A failing test fails the run: it is a bug to
# find (in the app or the test), never something to run again until it passes.
awk '/(Passed|Failed)! +- +Failed: +[0-9]+, Passed: +[0-9]+/ {
       gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     } END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
