#!/usr/bin/env bash
# Replays the incident envtrail exists for, in a throwaway store:
# production needs a second pair of eyes, so a release's key rotation is
# approved before CI applies it; CI deploys and restarts the service, payments
# break, and the on-call engineer finds out who changed what, when, where and
# why, reverts that one secret at once with --break-glass, and a colleague
# approves the fix afterwards. The postmortem timeline shows it all, and
# verify proves the record was not altered.
#
# Usage: examples/incident-replay.sh        (needs `envtrail`, git on PATH)
set -euo pipefail

ENVTRAIL=${ENVTRAIL:-envtrail}
work=$(mktemp -d "${TMPDIR:-/tmp}/envtrail-incident.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The people below act at their own machines, not in a CI job, even when this
# script itself runs in one (CI's steps set their own variables in in_ci).
unset CI GITHUB_ACTIONS GITLAB_CI ENVTRAIL_TRUST_ROOT ENVTRAIL_IDENTITY ENVTRAIL_IDENTITY_KEY
# Everything lives under $work: no real home, key or git config is touched.
export XDG_CONFIG_HOME="$work/config" HOME="$work/home"
export GIT_CONFIG_GLOBAL="$work/gitconfig" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name "Alice Admin"
git config --global user.email alice@example.com
git config --global init.defaultBranch main

step() { printf '\n\033[1m## %s\033[0m\n' "$*"; }
show_cmd() { printf '$ envtrail'; printf ' %q' "$@"; }
run() { printf '$'; printf ' %q' "$@"; printf '\n'; "$@"; }
envtrail() { command "$ENVTRAIL" "$@"; }  # `command`: not this function again
# Bob, the on-call engineer, acts with his own key.
bob() { show_cmd "$@"; printf '    # bob\n'; ENVTRAIL_IDENTITY="$work/bob.key" command "$ENVTRAIL" "$@"; }
# The release pipeline: its key comes from a CI secret, its run from GitHub's variables,
# and it trusts only the genesis it was configured with.
ci() { show_cmd "$@"; printf '    # CI, as ci:release\n'; in_ci "$@"; }
in_ci() {
  ENVTRAIL_IDENTITY_KEY="$(cat "$work/ci-release.key")" \
    GITHUB_ACTIONS=true GITHUB_REPOSITORY=acme/shop GITHUB_WORKFLOW=release GITHUB_RUN_ID=812 \
    ENVTRAIL_TRUST_ROOT="$GENESIS" ENVTRAIL_CONTEXT="deploy=v2.4.0" \
    command "$ENVTRAIL" "$@"
}
HEALTH_CHECK='case "$PAYMENT_PROVIDER_KEY" in pk_live_OLD_*) echo "payment provider: OK";; *) echo "payment provider: 401 Unauthorized"; exit 1;; esac'

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

step "Alice gives the release pipeline and Bob (on call) their own identities"
run envtrail identity new --principal ci:release --out "$work/ci-release.key"
run envtrail access grant ci:release "$work/ci-release.key.pub" --env production \
  --reason "Release pipeline rotates payment keys (OPS-101)"
run envtrail identity new --principal bob@example.com --out "$work/bob.key"
run envtrail access grant bob@example.com "$work/bob.key.pub" --env production \
  --reason "Bob joins the on-call rota (OPS-102)"

step "Production changes now need one approval by someone other than their author"
run envtrail policy set --env production --approvals 1 --reason "Four eyes on production (SEC-9)"

step "Release v2.4.0: CI proposes the new payment key"
printf '$ echo "$NEW_KEY" | envtrail set PAYMENT_PROVIDER_KEY --env production --propose --reason ...    # CI, as ci:release\n'
echo "pk_live_NEW_broken_9f8e7d" | \
  in_ci set PAYMENT_PROVIDER_KEY --env production --propose \
  --reason "Rotate payment key for release v2.4.0" | tee "$work/proposal.out"
PROPOSAL="$(sed -n 's/^proposed .* as \([0-9a-f]*\) .*/\1/p' "$work/proposal.out")"

step "Alice reviews the release's change and approves the deployment"
run envtrail review "$PROPOSAL"
run envtrail approve "$PROPOSAL" --reason "Release v2.4.0 approved (CHG-812)"

step "CI updates the variables, deploys and restarts the service"
ci apply "$PROPOSAL"
ci run --env production --event deploy --reason "Deploy shop-api v2.4.0" -- \
  sh -c 'echo "deploying shop-api v2.4.0 with ${#PAYMENT_PROVIDER_KEY}-character payment key"'
ci event restart --env production --reason "shop-api restarted on v2.4.0" --ref v2.4.0 --status ok

step "Meanwhile, someone turns on a feature flag in staging"
echo "on" | "$ENVTRAIL" set NEW_CHECKOUT --env staging --reason "Try the new checkout (FEAT-77)"

step "Ten minutes later: payments fail to authenticate, the error rate rises"
run envtrail run --env production -- sh -c "$HEALTH_CHECK" \
  || echo "(the health check failed with exit code $?)"
bob event error-rate --env production --reason "Payment errors at 38% after v2.4.0" \
  --ref INC-4521 --status firing

step "On call: what changed in production in the last hour?"
bob log --env production --since "1 hour ago"

step "The change in full: who (verified), what (masked), where, why, approved by whom"
# The log's seventh column is the short commit id (piped output is tab-separated).
change=$(envtrail log --env production --key PAYMENT_PROVIDER_KEY -n 1 | cut -f7)
run envtrail show "$change"

step "Which variable changed last, by whom?"
run envtrail blame --env production

step "Every version of the payment key, then the values (members only)"
run envtrail history PAYMENT_PROVIDER_KEY --env production
run envtrail history PAYMENT_PROVIDER_KEY --env production --reveal

step "Bob reverts that one secret; waiting for an approval is not an option now"
# The commit is named from the log; the staging change made in between is not
# touched (a count of commits would have named the staging one).
bob revert "$change" --env production --key PAYMENT_PROVIDER_KEY --dry-run \
  --reason "Restore payment key broken by release v2.4.0 (INC-4521)"
bob revert "$change" --env production --key PAYMENT_PROVIDER_KEY \
  --reason "Restore payment key broken by release v2.4.0 (INC-4521)" \
  || echo "(refused without --break-glass: exit $?)"
bob revert "$change" --env production --key PAYMENT_PROVIDER_KEY --break-glass \
  --reason "Restore payment key broken by release v2.4.0 (INC-4521)"
fix=$(git rev-parse HEAD)
run envtrail run --env production -- sh -c "$HEALTH_CHECK"
bob event recovered --env production --reason "Payments back to normal" --ref INC-4521 \
  --status resolved

step "The fix is flagged until someone else reviews it"
run envtrail status
run envtrail verify
run envtrail verify --strict || echo "(verify --strict fails on an unreviewed break-glass change: exit $?)"

step "Postmortem: Alice reviews the fix and approves it afterwards"
run envtrail approve "${fix:0:12}" --reason "Reviewed in the INC-4521 postmortem"
run envtrail verify --strict
run envtrail history PAYMENT_PROVIDER_KEY --env production

step "The postmortem timeline: changes, approvals, events and break-glass marks in order"
run envtrail log --env production --since "1 hour ago"

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
