#!/usr/bin/env bash
# Makes the upgrade fixtures again, with the app as of a past release (default: fda2de2, the
# release before the upgrade test existed). It checks that release out in a temporary git
# worktree, adds FixtureMaker.cs to that release's integration tests, runs it (the release's own
# app, on SQLite and on a throwaway PostgreSQL cluster), and copies what it made here:
#   sqlite/proofsheet.db      the SQLite database file
#   postgres/proofsheet.sql   plain SQL from pg_dump --no-owner --no-privileges
#   */previews, */media       the candidates' preview files and the published image
#   */fixture.json            the task id of each status, the published slug, and the API key and
#                             Hub password the app generated at its first start (fixture-only values)
# Needs what ./test.sh needs (the .NET SDK, PostgreSQL's server binaries).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
release=${1:-fda2de2}
work=$(mktemp -d)
git -C "$here" worktree add --detach "$work/app" "$release" >/dev/null
trap 'git -C "$here" worktree remove --force "$work/app"; rm -rf "$work"' EXIT
cp "$here/FixtureMaker.cs" "$work/app/tests/Proofsheet.IntegrationTests/FixtureMaker.cs"
PROOFSHEET_FIXTURE_OUT="$work/out" PROOFSHEET_FIXTURE_RELEASE="$(git -C "$here" rev-parse "$release")" \
  dotnet test "$work/app/tests/Proofsheet.IntegrationTests" --filter "FullyQualifiedName~FixtureMaker" --logger "console;verbosity=normal"
rm -rf "$here/sqlite" "$here/postgres"
cp -r "$work/out/sqlite" "$work/out/postgres" "$here/"
echo "fixtures written to $here"
