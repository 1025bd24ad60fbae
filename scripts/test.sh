#!/usr/bin/env bash
# The whole test suite: `npm test`. Builds, checks every generated artefact for drift, brings up
# the lab (real LXD nodes in network namespaces; needs root), then runs unit, integration
# (against SQLite and this machine's PostgreSQL), end-to-end (real LXD) and browser tests in one
# node:test run, so that one summary counts them all.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1

step() { printf '\n== %s\n' "$*"; }

step "system packages and services"
bash scripts/system-deps.sh
step "compile"
npx tsc -p .
step "lint"
npx eslint .
step "lint the node playbook"
ansible-lint --offline --profile production ansible/
step "typecheck the portal"
npx tsc -p portal --noEmit
step "schema.graphql matches the code"
node dist/scripts/schema.js check
step "migrations match the entities (SQLite and PostgreSQL)"
node dist/scripts/migrations.js check
step "portal/gql matches schema.graphql"
node scripts/codegen-check.mjs
step "build the portal"
npx next build portal > /tmp/corral-next-build.log 2>&1 || { cat /tmp/corral-next-build.log; exit 1; }

step "the lab: two LXD nodes, and the Debian test image (debootstrap once, then cached)"
node dist/test/lab/cli.js up --with-lxd > /tmp/corral-lab-up.log 2>&1 || { cat /tmp/corral-lab-up.log; exit 1; }
node dist/test/lab/cli.js image debian > /tmp/corral-lab-debian.log 2>&1 || { cat /tmp/corral-lab-debian.log; exit 1; }

step "tests"
node --test --test-concurrency=1 --test-timeout=300000 \
  "dist/test/unit/" "dist/test/integration/" "dist/test/lab/" "dist/test/e2e/" "dist/test/browser/"
