"""The per-commit rules and the line walk, each at the edge where its answer changes.

Commits are real and signed with real keys (forge.py writes what envtrail would,
then changes one thing); the verdicts come from ``Verifier.check`` and
``line.walk`` directly, so each test names the rule it holds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conftest import assert_one_line_error, git
from envtrail.audit import line, verify
from envtrail.audit.keyring import Keyring
from envtrail.audit.line import check_time
from envtrail.audit.verify import Finding, Verifier
from envtrail.audit.view import StoreView
from envtrail.format import envfile
from envtrail.gitstore.commit import Author, create_commit
from envtrail.gitstore.repo import CommitInfo, GitRepo
from envtrail.ops.txn import Plan, signer_for
from forge import commit_plan, honest_plan, with_record
from hostile import head, setv

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def info_at(when: datetime) -> CommitInfo:
    return CommitInfo("c" * 40, ("p" * 40,), when, "m")


def rules_of(store, commit=None, identity=None) -> dict[int, list[str]]:
    g = GitRepo(store)
    view = StoreView(g)
    found = Verifier(view, Keyring(identity)).check(g.info(commit or g.head()))
    out: dict[int, list[str]] = {}
    for f in found:
        out.setdefault(f.rule, []).append(f.message)
    return out


# -- rule 7, the pure parts -----------------------------------------------------


def test_time_floor_allows_equal_and_refuses_a_second_less():
    assert check_time(info_at(T0), T0, None) == []
    assert check_time(info_at(T0 + timedelta(seconds=1)), T0, None) == []
    [f] = check_time(info_at(T0 - timedelta(seconds=1)), T0, None)
    assert f.rule == 7 and "backwards" in f.message
    assert check_time(info_at(T0 - timedelta(days=1)), None, None) == []


def test_dated_ahead_allows_ten_minutes_exactly():
    assert check_time(info_at(T0 + timedelta(minutes=10)), None, T0) == []
    [f] = check_time(info_at(T0 + timedelta(minutes=10, seconds=1)), None, T0)
    assert f.rule == 7 and "first saw" in f.message
    assert len(check_time(info_at(T0 + timedelta(hours=1)), T0 + timedelta(hours=2), T0)) == 2


def test_findings_read_as_one_line_and_as_json():
    f = Finding("0123456789abcdef", 5, "bob is not an admin")
    assert f.line() == "0123456789 rule 5 (admin): bob is not an admin"
    assert f.as_dict() == {"commit": "0123456789abcdef", "rule": 5, "name": "admin",
                           "message": "bob is not an admin"}


def test_mismatch_descriptions_name_each_kind():
    d = verify._describe_mismatch({"A": "~", "B": "+", "C": "~"}, {"A": "~", "C": "-", "D": "+"})
    assert d == ("Envtrail-Change trailers differ from the file: trailers omit D; "
                 "trailers name unchanged B; C is - not ~")
    assert verify._describe_mismatch({}, {"X": "+"}).endswith("trailers omit X")
    # Only the kinds that occur are named: no empty "trailers omit" before the rest.
    assert verify._describe_mismatch({"B": "+"}, {}) == (
        "Envtrail-Change trailers differ from the file: trailers name unchanged B")


def test_custody_of_no_file_is_empty_and_member_order_does_not_matter(store):
    assert verify.custody(None) == ()
    env = StoreView(GitRepo(store)).env_at(head(store), "production")
    members = dict(reversed(list(env.members.items())))
    assert verify.custody(env) == verify.custody(env.with_members(members))
    assert verify.custody(env) != verify.custody(env.with_members({}))


# -- rules 1 to 5 on real commits -----------------------------------------------


def test_an_honest_set_has_no_finding_with_or_without_a_key(cli, store, alice):
    setv(cli, "A", "1")
    assert rules_of(store) == {}
    assert rules_of(store, identity=alice.identity) == {}


def test_author_or_committer_other_than_the_signer_is_rule_2(cli, store, alice):
    setv(cli, "A", "1")
    g = GitRepo(store)
    plan = honest_plan(store, alice.identity, "production", {"A": "2"})
    parent = g.head()
    when = g.info(parent).committer_time + timedelta(seconds=1)
    from envtrail.audit import record

    for name, email in (("alice@example.com", "eve@example.com"), ("Eve", "alice@example.com")):
        commit = create_commit(g, [parent], plan.changes, record.render(plan.record),
                               Author(name, email, when), signer_for(alice.identity))
        found = rules_of(store, commit)
        assert list(found) == [2], found
        assert all("is not the signer" in m for m in found[2])


def test_values_of_two_environments_in_one_commit_is_rule_3(cli, store, alice):
    setv(cli, "A", "1")
    prod = honest_plan(store, alice.identity, "production", {"A": "2"})
    stag = honest_plan(store, alice.identity, "staging", {"A": "2"})
    commit = commit_plan(store, alice.identity, Plan({**prod.changes, **stag.changes}, prod.record))
    found = rules_of(store, commit)
    assert any("several environments: production, staging" in m for m in found[3])
    assert any("does not name the environment changed (production, staging)" in m for m in found[3])


def test_a_trailer_naming_another_environment_is_rule_3(cli, store, alice):
    plan = honest_plan(store, alice.identity, "production", {"A": "1"})
    commit = commit_plan(store, alice.identity, with_record(plan, environments=("staging",)))
    assert any("does not name the environment" in m for m in rules_of(store, commit)[3])


def test_an_event_on_the_store_line_is_rule_6_whatever_it_changes(cli, store, alice):
    # Events belong on refs/envtrail/events, where their environment's membership and
    # the commit they follow are checked; on the store line one would move the line.
    setv(cli, "A", "1")
    plan = honest_plan(store, alice.identity, "production", {"A": "9"})
    event = with_record(plan, action="event", changes=()).record
    for changes in ({}, plan.changes, {"README.md": b"x\n"}):
        found = rules_of(store, commit_plan(store, alice.identity, Plan(changes, event)))
        assert list(found) == [6] and "event commit on the store line" in found[6][0]


def test_an_approval_with_no_change_is_clean_and_one_with_a_change_is_rule_4(cli, store, alice):
    setv(cli, "A", "1")
    plan = honest_plan(store, alice.identity, "production", {"A": "9"})
    marker = with_record(plan, action="approve", changes=()).record
    assert rules_of(store, commit_plan(store, alice.identity, Plan({}, marker))) == {}
    found = rules_of(store, commit_plan(store, alice.identity, Plan(plan.changes, marker)))
    assert found == {4: ["an approve commit changes envs"]}
    stowaway = rules_of(store, commit_plan(store, alice.identity,
                                           Plan({"README.md": b"x\n"}, marker)))
    assert stowaway[4] == ["an approve commit changes files outside the store"] and 3 in stowaway


def test_a_member_who_is_not_admin_may_not_touch_custody(cli, store, alice, bob):
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    g = GitRepo(store)
    env = StoreView(g).env_at(g.head(), "production")
    # bob drops alice's seal: no value changes, only who holds the key.
    members = {p: m for p, m in env.members.items() if p == "bob@example.com"}
    path = envfile.path_for("production")
    plan = honest_plan(store, bob.identity, "production", {"A": "1"})
    plan = Plan({path: envfile.render(env.with_members(members))},
                with_record(plan, action="set", changes=()).record)
    commit = commit_plan(store, bob.identity, plan)
    found = rules_of(store, commit)
    assert any("not an admin but changed members or keys of production" in m for m in found[5])


def test_a_non_member_changing_an_environment_is_rule_4(cli, store, alice, bob):
    # bob is an allowed signer but no member of production.
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    setv(cli, "A", "1")
    plan = honest_plan(store, alice.identity, "production", {"A": "2"})
    plan = with_record(plan, actor="bob@example.com")
    commit = commit_plan(store, bob.identity, plan)
    found = rules_of(store, commit)
    assert any("without being a member of it" in m for m in found[4]), found


def test_a_lying_old_fingerprint_is_caught_with_a_key_only(cli, store, alice):
    setv(cli, "A", "1")
    plan = honest_plan(store, alice.identity, "production", {"A": "2"})
    [change] = plan.record.changes
    lie = type(change)(change.op, change.key, "0" * len(change.old_fp), change.new_fp)
    commit = commit_plan(store, alice.identity, with_record(plan, changes=(lie,)))
    assert rules_of(store, commit) == {}
    found = rules_of(store, commit, alice.identity)
    assert [m for m in found[3] if "old fingerprint" in m]
    assert not [m for m in found[3] if "new fingerprint" in m]


def test_an_uncomputed_fingerprint_is_rule_3_with_or_without_a_key(cli, store, alice):
    setv(cli, "A", "1")
    plan = honest_plan(store, alice.identity, "production", {"A": "2"})
    [change] = plan.record.changes
    unknown = type(change)(change.op, change.key, change.old_fp, "?")
    commit = commit_plan(store, alice.identity, with_record(plan, changes=(unknown,)))
    for identity in (None, alice.identity):
        assert rules_of(store, commit, identity)[3][0] == "A: fingerprint '?' (not computed)"


def test_a_ciphertext_that_does_not_authenticate_is_rule_3_with_a_key(cli, store, alice):
    """A's ciphertext replaced by B's (bound to B's name): the masked diff is honest, the
    value is not; only a key can tell."""
    setv(cli, "A", "alpha")
    setv(cli, "B", "beta")
    g = GitRepo(store)
    env = StoreView(g).env_at(g.head(), "production")
    plan = honest_plan(store, alice.identity, "production", {"A": "beta"})
    moved = env.with_values({**env.values, "A": env.values["B"]})
    commit = commit_plan(store, alice.identity,
                         Plan({envfile.path_for("production"): envfile.render(moved)}, plan.record))
    assert rules_of(store, commit) == {}
    assert rules_of(store, commit, alice.identity) == {
        3: ["production: A: ciphertext does not authenticate"]}


# -- the walk --------------------------------------------------------------------


def test_a_clean_walk_reports_the_whole_line(cli, store, alice):
    setv(cli, "A", "1")
    setv(cli, "B", "2")
    g = GitRepo(store)
    ids = g.first_parents(g.head(), None)[0][::-1]
    report = line.walk(StoreView(g), g.head(), keyring=Keyring(alice.identity), now=datetime.now(UTC))
    assert report.ok and report.findings == []
    assert report.walked == ids and report.checked == len(ids) >= 3
    assert report.genesis == ids[0]
    assert report.floor == g.info(g.head()).committer_time
    part = line.walk(StoreView(g), g.head(), since=ids[1], now=datetime.now(UTC))
    assert part.walked == ids[2:] and part.genesis is None and part.checked == len(ids) - 2


def test_a_walk_with_a_wrong_pin_or_a_missing_root_is_rule_8(cli, store):
    setv(cli, "A", "1")
    g = GitRepo(store)
    other = "f" * 40
    report = line.walk(StoreView(g), g.head(), trust=line.Trust(pin=other), now=datetime.now(UTC))
    genesis = g.first_parents(g.head(), None)[0][-1]
    assert [(f.commit, f.rule) for f in report.findings] == [(genesis, 8)] and not report.ok
    report = line.walk(StoreView(g), g.head(), trust=line.Trust(roots=frozenset({other})),
                       now=datetime.now(UTC))
    assert [(f.commit, f.rule) for f in report.findings] == [(g.head(), 8)]
    ok = line.walk(StoreView(g), g.head(), trust=line.Trust(pin=genesis, roots=frozenset({genesis})),
                   now=datetime.now(UTC))
    assert ok.ok


@pytest.mark.parametrize("seen_ahead", [False, True])
def test_a_commit_dated_ahead_is_remembered_once(cli, store, alice, seen_ahead):
    setv(cli, "A", "1")
    g = GitRepo(store)
    parent = g.head()
    plan = honest_plan(store, alice.identity, "production", {"A": "2"})
    ahead = datetime.now(UTC) + timedelta(hours=3)
    commit = commit_plan(store, alice.identity, plan, when=ahead)
    now = datetime.now(UTC)
    earlier = {commit: int((now - timedelta(hours=1)).timestamp())} if seen_ahead else None
    report = line.walk(StoreView(g), commit, since=parent, now=now, seen_ahead=earlier)
    assert [f.rule for f in report.findings] == [7]
    assert report.ahead == ({} if seen_ahead else {commit: int(now.timestamp())})
    # The floor does not move to a commit with a time finding.
    assert report.floor is None


def test_an_acknowledged_finding_carries_the_repair_in_its_json():
    ack = line.Acknowledged(Finding("c" * 40, 3, "lie"), "r" * 40, "alice@example.com", "reviewed")
    assert ack.as_dict() == {"commit": "c" * 40, "rule": 3, "name": "changes", "message": "lie",
                             "repair": "r" * 40, "admin": "alice@example.com", "reason": "reviewed"}


def test_a_line_with_a_missing_commit_is_an_integrity_error_not_a_crash(cli, store):
    from envtrail.errors import IntegrityError

    setv(cli, "A", "1")
    setv(cli, "A", "2")
    middle = git(store, "rev-parse", "HEAD~1").strip()
    (store / ".git" / "objects" / middle[:2] / middle[2:]).unlink()  # loose: a fresh store never packs
    g = GitRepo(store)
    with pytest.raises(IntegrityError, match="missing from this clone"):
        line.walk(StoreView(g), g.head(), now=datetime.now(UTC))
    assert_one_line_error(cli("verify"), 5)


def test_an_unsigned_or_foreign_signed_commit_is_rule_1_and_nothing_else(cli, store, alice, make_identity):
    setv(cli, "A", "1")
    plan = honest_plan(store, alice.identity, "production", {"A": "2"})
    unsigned = commit_plan(store, None, plan)
    found = rules_of(store, unsigned)
    assert list(found) == [1] and "signature" in found[1][0]
    assert not found[1][0].startswith("not an envtrail commit")
    git(store, "reset", "-q", "--hard", "HEAD~1")
    mallory = make_identity("alice@example.com")  # same principal, a key nobody allowed
    forged = commit_plan(store, mallory.identity, plan)
    assert list(rules_of(store, forged)) == [1]


def test_a_signed_commit_without_envtrail_trailers_is_rule_6(cli, store, alice):
    setv(cli, "A", "1")
    plan = honest_plan(store, alice.identity, "production", {"A": "2"})
    commit = commit_plan(store, alice.identity, plan, message="just a change\n")
    assert list(rules_of(store, commit)) == [6]


def test_only_an_admins_clean_repair_acknowledges_what_it_names(cli, store, alice, bob):
    from envtrail.audit import record

    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    setv(cli, "A", "1")
    clean = head(store)
    bad = commit_plan(store, None, honest_plan(store, alice.identity, "production", {"A": "evil"}))
    g = GitRepo(store)
    restore = {"envs/production.yaml": g.read(clean, "envs/production.yaml")}

    def repair_by(who, principal, acks, changes=None, action="repair"):
        # What `repair` writes: the clean point's tree, naming that point and the findings.
        g2 = GitRepo(store)
        parent = g2.head()
        rec = record.Record(action, principal, "reviewed", ("production",),
                            extra=(("Repair-Clean", clean), *(("Acknowledges", a) for a in acks)))
        when = g2.info(parent).committer_time + timedelta(seconds=1)
        return create_commit(g2, [parent], {**restore, **(changes or {})}, record.render(rec),
                             Author(principal, principal, when), signer_for(who.identity))

    def walk_to(commit):
        steps: list[int] = []
        report = line.walk(StoreView(g), commit, now=datetime.now(UTC), on_commit=steps.append)
        assert steps == list(range(1, report.checked + 1))
        return report

    by_bob = repair_by(bob, "bob@example.com", [f"{bad} 1"])
    report = walk_to(by_bob)
    assert (bad, 1) in [(f.commit, f.rule) for f in report.findings] and report.acknowledged == []
    for acks in ([f"{bad} 2"], [f"{'0' * 40} 1"]):  # another rule, another commit: nothing
        other = walk_to(repair_by(alice, "alice@example.com", acks))
        assert bad in [f.commit for f in other.findings] and other.acknowledged == []
    # Only a repair acknowledges: the same trailer on an admin's event does nothing.
    event = walk_to(repair_by(alice, "alice@example.com", [f"{bad} 1"], action="event"))
    assert bad in [f.commit for f in event.findings] and event.acknowledged == []
    # A repair that breaks a rule itself acknowledges nothing.
    dirty = walk_to(repair_by(alice, "alice@example.com", [f"{bad} 1"], {"README.md": b"x\n"}))
    assert (dirty.findings[0].commit, dirty.findings[0].rule) == (bad, 1) and dirty.acknowledged == []
    report = walk_to(repair_by(alice, "alice@example.com", [f"{bad}  1 "]))
    assert report.findings == []
    [ack] = report.acknowledged
    assert (ack.finding.commit, ack.finding.rule, ack.admin, ack.reason) == (bad, 1, "alice@example.com",
                                                                             "reviewed")


def test_a_file_outside_the_store_is_rule_3(cli, store, alice):
    setv(cli, "A", "1")
    plan = honest_plan(store, alice.identity, "production", {"A": "2"})
    commit = commit_plan(store, alice.identity, Plan({**plan.changes, "README.md": b"hi\n"}, plan.record))
    found = rules_of(store, commit)
    assert found == {3: ["changes files outside envs/ and .envtrail/"]}


def test_a_write_breaking_the_parents_policy_is_rule_4(cli, store, alice):
    assert cli("policy", "set", "--env", "production", "--reason-pattern", "[A-Z]+-[0-9]+",
               "--reason", "lock down").code == 0
    plan = honest_plan(store, alice.identity, "production", {"A": "1"}, reason="OPS-1")
    found = rules_of(store, commit_plan(store, alice.identity, with_record(plan, reason="no ticket")))
    assert list(found) == [4] and "reason_pattern" in found[4][0]
    ok = honest_plan(store, alice.identity, "staging", {"A": "1"}, reason="no ticket")
    assert rules_of(store, commit_plan(store, alice.identity, ok)) == {}


@pytest.mark.parametrize("path", [".envtrail/allowed_signers", ".envtrail/policy.yaml", ".gitattributes"])
def test_admin_files_changed_by_a_member_who_is_no_admin_is_rule_5(cli, store, bob, path):
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    data = (store / path).read_bytes() + b"\n# bob was here\n"
    plan = honest_plan(store, bob.identity, "production", {"A": "1"})
    found = rules_of(store, commit_plan(store, bob.identity, Plan({**plan.changes, path: data},
                                                                  plan.record)))
    assert found == {3: [f"Envtrail-Action set, but it changes {path}"],
                     5: [f"bob@example.com is not an admin but changed {path}"]}


def test_an_environment_file_envtrail_cannot_read_is_rule_3(cli, store, alice):
    setv(cli, "A", "1")
    plan = honest_plan(store, alice.identity, "production", {"A": "2"})
    broken = Plan({"envs/production.yaml": b"public_key: [not, a, key]\n"}, plan.record)
    found = rules_of(store, commit_plan(store, alice.identity, broken))
    assert list(found) == [3] and "envs/production.yaml" in found[3][0]


def test_policy_writers_are_matched_by_the_signers_principal(cli, store, alice, bob):
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("policy", "set", "--env", "production", "--writers", "bob@example.com",
               "--reason", "only bob").code == 0
    plan = honest_plan(store, bob.identity, "production", {"A": "1"})
    assert plan.record.actor == "bob@example.com"
    assert rules_of(store, commit_plan(store, bob.identity, plan)) == {}


def test_an_admin_writing_a_policy_envtrail_cannot_read_is_rule_3_at_that_commit(cli, store, alice):
    from hostile import refused

    setv(cli, "A", "1")
    plan = honest_plan(store, alice.identity, "production", {"A": "sneaked-in-with-a-broken-policy"})
    broken = Plan({**plan.changes, ".envtrail/policy.yaml": b"envtrail: 1\nsurprise: [1\n"},
                  plan.record)
    commit = commit_plan(store, alice.identity, broken)
    found = rules_of(store, commit)
    assert list(found) == [3] and "policy" in found[3][0]
    # At the head, with nothing after it to trip over the file, reads still refuse.
    refused(cli, "A", ("sneaked-in-with-a-broken-policy",))


def test_a_settings_file_turned_into_a_folder_is_a_finding_not_a_crash(cli, store, alice):
    import pygit2

    from envtrail.gitstore.repo import GitRepo

    setv(cli, "A", "1")
    g = GitRepo(store)
    head_ = g.head()
    base = g.repo[head_].tree
    settings = g.repo[base[".envtrail"].id]
    inner = g.repo.TreeBuilder()
    inner.insert("x", settings["policy.yaml"].id, pygit2.GIT_FILEMODE_BLOB)
    sub = g.repo.TreeBuilder(settings)
    sub.insert("policy.yaml", inner.write(), pygit2.GIT_FILEMODE_TREE)
    top = g.repo.TreeBuilder(base)
    top.insert(".envtrail", sub.write(), pygit2.GIT_FILEMODE_TREE)
    plan = honest_plan(store, alice.identity, "production", {"A": "2"})
    from envtrail.audit import record

    commit = create_commit(g, [head_], {}, record.render(plan.record),
                           Author("alice@example.com", "alice@example.com",
                                  g.info(head_).committer_time), signer_for(alice.identity),
                           tree=top.write())
    git(store, "update-ref", "refs/heads/main", commit)
    found = rules_of(store, commit)
    assert any(".envtrail/policy.yaml: a folder where a file belongs" in m
               for m in found.get(3, [])), found
    r = cli("get", "A", "--env", "production")
    assert_one_line_error(r, 5)
    assert "Traceback" not in r.err
