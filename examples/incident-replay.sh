#!/usr/bin/env bash
# Replays the incident envtrail exists for, in a throwaway store:
# a CI job rotates a production key during a release, payments break, and
# the on-call engineer finds out who changed what, when, where and why,
# undoes exactly that change, and proves the record was not altered.
#
# Usage: examples/incident-replay.sh        (needs `envtrail`, git on PATH)
set -euo pipefail

ENVTRAIL=${ENVTRAIL:-envtrail}
work=$(mktemp -d "${TMPDIR:-/tmp}/envtrail-incident.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Everything lives under $work: no real home, key or git config is touched.
export XDG_CONFIG_HOME="$work/config" HOME="$work/home"
export GIT_CONFIG_GLOBAL="$work/gitconfig" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name "Alice Admin"
git config --global user.email alice@example.com
git config --global init.defaultBranch main

step() { printf '\n\033[1m## %s\033[0m\n' "$*"; }
run() { printf '$'; printf ' %q' "$@"; printf '\n'; "$@"; }
envtrail() { command "$ENVTRAIL" "$@"; }  # `command`: not this function again

step "Alice sets up the production store"
run envtrail identity new --principal alice@example.com
mkdir "$work/secrets" && cd "$work/secrets"
run envtrail init --create --env production --env staging | tee "$work/init.out"
# CI pins the store's genesis, so a replaced history can never pass for this one.
GENESIS="$(sed -n 's/^genesis //p' "$work/init.out")"
cat > "$work/prod.env" <<'DOTENV'
DATABASE_URL=postgres://app@db.internal/app
PAYMENT_PROVIDER_KEY=pk_live_OLD_51HxkQ2eZvKYlo2C
SESSION_SECRET='s3ss10n s3cr3t'
DOTENV
run envtrail import "$work/prod.env" --env production --reason "Initial production secrets (OPS-100)"
rm "$work/prod.env"

step "Alice gives the release pipeline its own identity"
run envtrail identity new --principal ci:release --out "$work/ci-release.key"
run envtrail access grant ci:release "$work/ci-release.key.pub" --env production \
  --reason "Release pipeline rotates payment keys (OPS-101)"

step "During release v2.4.0, CI rotates the payment key (its key comes from a CI secret)"
printf '$ echo "$NEW_KEY" | ENVTRAIL_IDENTITY_KEY="$CI_SECRET" ENVTRAIL_TRUST_ROOT="$GENESIS" envtrail set PAYMENT_PROVIDER_KEY ...\n'
echo "pk_live_NEW_broken_9f8e7d" | \
  ENVTRAIL_IDENTITY_KEY="$(cat "$work/ci-release.key")" \
  GITHUB_ACTIONS=true GITHUB_REPOSITORY=acme/shop GITHUB_WORKFLOW=release GITHUB_RUN_ID=812 \
  ENVTRAIL_TRUST_ROOT="$GENESIS" \
  ENVTRAIL_CONTEXT="deploy=v2.4.0" \
  "$ENVTRAIL" set PAYMENT_PROVIDER_KEY --env production --reason "Rotate payment key for release v2.4.0"

step "Meanwhile, someone turns on a feature flag in staging"
echo "on" | "$ENVTRAIL" set NEW_CHECKOUT --env staging --reason "Try the new checkout (FEAT-77)"

step "Ten minutes later: payments fail to authenticate"
run envtrail run --env production -- sh -c \
  'case "$PAYMENT_PROVIDER_KEY" in pk_live_OLD_*) echo "payment provider: OK";; *) echo "payment provider: 401 Unauthorized"; exit 1;; esac' \
  || echo "(the health check failed with exit code $?)"

step "On call: what changed in production in the last hour?"
run envtrail log --env production --since "1 hour ago"

step "The change in full: who (verified), what (masked), where, why"
# The log's seventh column is the short commit id (piped output is tab-separated).
change=$(envtrail log --env production --key PAYMENT_PROVIDER_KEY -n 1 | cut -f7)
run envtrail show "$change"

step "Which variable changed last, by whom?"
run envtrail blame --env production

step "Every version of the payment key, then the values (members only)"
run envtrail history PAYMENT_PROVIDER_KEY --env production
run envtrail history PAYMENT_PROVIDER_KEY --env production --reveal

step "Undo exactly that change as a new signed commit (history is not rewritten)"
# revert picks production's last change itself; the staging change in between
# is not touched (a count of commits would have named the staging one).
run envtrail revert --env production --key PAYMENT_PROVIDER_KEY --dry-run \
  --reason "Restore payment key broken by release v2.4.0 (INC-4521)"
run envtrail revert --env production --key PAYMENT_PROVIDER_KEY \
  --reason "Restore payment key broken by release v2.4.0 (INC-4521)"
run envtrail run --env production -- sh -c \
  'case "$PAYMENT_PROVIDER_KEY" in pk_live_OLD_*) echo "payment provider: OK";; *) echo "payment provider: 401 Unauthorized"; exit 1;; esac'
run envtrail log --env production -n 2
run envtrail history PAYMENT_PROVIDER_KEY --env production

step "Prove the record intact"
run envtrail verify
run git verify-commit HEAD

step "Someone tries to 'fix' the file by hand and commit it with plain git"
run envtrail hook install
sed -i.bak 's/^  SESSION_SECRET: .*/  SESSION_SECRET: ENC[v2,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA]/' envs/production.yaml
rm envs/production.yaml.bak
run git commit -q -am "hotfix session secret" || echo "(the pre-commit hook refused the commit: exit $?)"
step "...and forces it past the hook"
run git commit -q --no-verify -am "hotfix session secret"
run envtrail verify || echo "(verify exited with $?: the edit bypassed the audit trail)"
run envtrail get SESSION_SECRET --env production || echo "(reads refuse an unverified history: exit $?)"

printf '\nReplay complete.\n'
