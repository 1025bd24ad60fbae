#!/usr/bin/env bash
# The whole test suite: `npm test`. Builds, checks every generated artefact for drift, brings up
# the lab (real LXD nodes in network namespaces; needs root), then runs unit, integration
# (against SQLite and this machine's PostgreSQL), end-to-end (real LXD) and browser tests: the
# node setup suite first on its own, then everything else in one node:test run.
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

step "the lab: two nodes with sshd only (no LXD), and the Debian test image (debootstrap once, then cached)"
node dist/test/lab/cli.js up > /tmp/corral-lab-up.log 2>&1 || { cat /tmp/corral-lab-up.log; exit 1; }
node dist/test/lab/cli.js image debian > /tmp/corral-lab-debian.log 2>&1 || { cat /tmp/corral-lab-debian.log; exit 1; }

# Bare nodes first: connect-node sets n1 and n2 up through connectNode (SSH, then the Ansible
# playbook installs and starts LXD and bird). Its own run, because node --test sorts the files it
# is given by path; every later suite finds the nodes READY. That sorting also puts the lab's own
# tests (dist/test/lab, whose `up --with-lxd` must find LXD already started by Corral) after the
# end-to-end ones.
step "tests: node setup over SSH and Ansible, from nodes with sshd only"
node --test --test-concurrency=1 --test-timeout=900000 dist/test/e2e/connect-node.test.js

step "tests"
mapfile -t e2e < <(ls dist/test/e2e/*.test.js | grep -v '/connect-node\.test\.js$')
node --test --test-concurrency=1 --test-timeout=300000 \
  "dist/test/unit/" "dist/test/integration/" "${e2e[@]}" "dist/test/lab/" "dist/test/browser/"
