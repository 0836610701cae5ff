"""revert and rollback say when they put back a value someone offboarded could read
(attack21 R3): the offboarding report asked for it to be rotated, and a one-line undo
must not quietly make the leaver's copy live again."""

from conftest import git


def setv(cli, key, value, env="production"):
    r = cli("set", key, "--env", env, "--reason", f"set {key}", input=value)
    assert r.code == 0, r.err
    return git(cli.cwd, "rev-parse", "HEAD").strip()


def seat(cli, who, env="production"):
    """``who`` joins ``env``."""
    r = cli("access", "grant", who.principal, who.publine, "--env", env, "--reason", "join")
    assert r.code == 0, r.err


def unseat(cli, who, env="production"):
    """``who`` leaves ``env`` (a revoke: a new key pair, every value re-encrypted)."""
    r = cli("access", "revoke", who.principal, "--env", env, "--reason", "left")
    assert r.code == 0, r.err


WARNING = ("warning: K is back to a value bob@example.com could read, with a key no longer "
           "seated in production: rotate it")


def test_undoing_the_rotation_of_a_value_an_offboarded_member_read_says_so(cli, store, bob):
    seat(cli, bob)
    setv(cli, "K", "read-by-bob")
    setv(cli, "OTHER", "o")
    unseat(cli, bob)  # a new key pair: K re-encrypted, same value
    before_rotation = git(store, "rev-parse", "HEAD").strip()
    rotated = setv(cli, "K", "rotated-after-bob")
    for args in (("revert", rotated, "--dry-run"), ("revert", rotated),):
        r = cli(*args, "--env", "production", "--reason", "the new key broke the deploy")
        assert r.code == 0, r.err
        assert WARNING in r.err
        assert "read-by-bob" not in r.both
    setv(cli, "K", "rotated-again")
    r = cli("rollback", "--env", "production", "--to", before_rotation, "--reason", "undo")
    assert r.code == 0, r.err
    assert WARNING in r.err


def test_putting_back_a_value_nobody_gone_could_read_says_nothing(cli, store, bob):
    seat(cli, bob)
    read = setv(cli, "K", "read-by-bob")
    unseat(cli, bob)
    setv(cli, "K", "after-bob")
    later = setv(cli, "K", "later")
    r = cli("revert", later, "--env", "production", "--reason", "undo")  # back to after-bob
    assert r.code == 0, r.err
    assert "could read" not in r.err
    # bob still a member (re-granted with the same key): nothing to rotate for his sake.
    seat(cli, bob)
    r = cli("rollback", "--env", "production", "--to", read, "--reason", "undo")
    assert r.code == 0, r.err
    assert "~ K" in r.out and "could read" not in r.err


def test_the_value_is_followed_through_a_rollback_and_a_revert(cli, store, bob):
    """A rollback or revert re-encrypts an old value under today's key pair: still the value
    bob read, however many times it was put back."""
    seat(cli, bob)
    setv(cli, "K", "read-by-bob")
    unseat(cli, bob)
    revoked = git(store, "rev-parse", "HEAD").strip()
    setv(cli, "K", "w")
    r = cli("rollback", "--env", "production", "--to", revoked, "--reason", "back")
    assert r.code == 0 and WARNING in r.err, r.err
    again = setv(cli, "K", "x")
    r = cli("revert", again, "--env", "production", "--reason", "back again")
    assert r.code == 0, r.err
    assert WARNING in r.err


def test_a_repaired_malformed_file_in_history_never_fails_a_revert_after_it_wrote(
        cli, store):
    """review13 B1: the walk behind the note met the malformed file a repair acknowledged
    and failed with exit 5 after the revert had landed; now it is judged before anything is
    written, and an unreadable state only ends the value's trail."""
    setv(cli, "OTHER", "o1")
    path = store / "envs/production.yaml"
    path.write_text(path.read_text() + "  broken: [\n")
    git(store, "commit", "-q", "--no-verify", "-am", "hand edit")
    r = cli("repair", "--reason", "undo the hand edit INC-9")
    assert r.code == 0, r.err
    after = setv(cli, "OTHER", "o2")  # its parent is the repair, right after the bad file
    for args in (("--dry-run",), ()):
        r = cli("revert", after, "--env", "production", "--reason", "undo", *args)
        assert r.code == 0, r.err
    assert cli("get", "OTHER", "--env", "production").out == "o1"


def test_a_declined_grant_proposal_counts_as_a_reader(cli, store, make_identity):
    """attack22 S4: a grant proposal seals the key pair to dave whether or not it is ever
    approved; after the documented rotation, putting back a value from before it names
    him too."""
    from hostile import proposal_id

    dave = make_identity("dave@example.com")
    setv(cli, "K", "read-by-dave")
    r = cli("access", "grant", dave.principal, dave.publine, "--env", "production",
            "--reason", "dave joins", "--propose")
    assert r.code == 0 and proposal_id(r)  # declined: never approved, never applied
    assert cli("access", "rotate", "--env", "production", "--reason", "declined").code == 0
    last = setv(cli, "K", "after-rotation")
    r = cli("revert", last, "--env", "production", "--reason", "undo")
    assert r.code == 0, r.err
    assert "K is back to a value dave@example.com could read" in r.err


def test_a_member_who_joined_after_the_rotation_is_told_too(cli, store, bob, make_identity):
    """attack23 T3: dave, granted after bob's revoke re-encrypted K, cannot open the
    versions bob read; his revert put bob's value back with no word, where alice's warned.
    The value is followed back through the re-encryption he can open."""
    dave = make_identity("dave@example.com")
    seat(cli, bob)
    setv(cli, "K", "read-by-bob")
    unseat(cli, bob)
    seat(cli, dave)
    rotated = setv(cli, "K", "rotated-after-bob")
    r = cli.as_(dave)("revert", rotated, "--env", "production", "--reason", "undo",
                      "--dry-run")
    assert r.code == 0, r.err
    assert WARNING in r.err


def _noise(store):
    """A plain git commit on the store line: a finding only a repair gets past."""
    git(store, "commit", "-q", "--allow-empty", "--no-verify", "--no-gpg-sign", "-m", "noise")


def test_a_repair_from_before_a_rotation_names_who_could_read_what_it_puts_back(
        cli, store, bob):
    """attack22's open note: `repair --from` put bob's value back as silently as revert did
    before attack21 R3; the repair itself, restoring the clean point, puts back nothing."""
    seat(cli, bob)
    setv(cli, "K", "read-by-bob")
    unseat(cli, bob)
    before_rotation = setv(cli, "OTHER", "o")
    setv(cli, "K", "rotated-after-bob")
    _noise(store)
    r = cli("repair", "--reason", "drop the noise", "--dry-run")
    assert r.code == 0, r.err
    assert "could read" not in r.err
    for args in (("--dry-run",), ()):
        r = cli("repair", "--reason", "back to before INC-3", "--from", before_rotation, *args)
        assert r.code == 0, r.err
        assert WARNING in r.err
        assert "read-by-bob" not in r.both
    assert cli("get", "K", "--env", "production").out == "read-by-bob"


def test_a_repair_that_undoes_a_rotation_made_on_top_of_the_finding_says_so(
        cli, store, bob, make_identity):
    """The swept commits are undone too: here the staging rotation carol made after dan
    left (she could not see bob's production lie), so the repair puts dan's value back."""
    import forge

    carol, dan = make_identity("carol@example.com"), make_identity("dan@example.com")
    for who, env in ((bob, "production"), (carol, "staging"), (dan, "staging")):
        seat(cli, who, env)
    assert cli("access", "admin", carol.principal, "--reason", "staging lead").code == 0
    setv(cli, "S", "read-by-dan", env="staging")
    unseat(cli, dan, "staging")
    forge.lying_set(store, bob.identity, "production", "API_KEY", "CANARY-lie-5d")
    setv(cli.as_(carol), "S", "rotated-after-dan", env="staging")
    r = cli("repair", "--reason", "undo bob's lie INC-8")
    assert r.code == 0, r.err
    assert ("warning: S is back to a value dan@example.com could read, with a key no "
            "longer seated in staging: rotate it") in r.err
    assert "CANARY-lie-5d" not in r.both and "read-by-dan" not in r.both


def test_a_repair_of_values_the_admin_cannot_open_says_they_were_not_checked(
        cli, store, bob, make_identity):
    """carol, an admin outside production, repairs a forged production value: she cannot
    tell who could read what she puts back, and says so rather than nothing."""
    carol = make_identity("carol@example.com")
    seat(cli, carol, "staging")
    seat(cli, bob)
    assert cli("access", "admin", carol.principal, "--reason", "lead").code == 0
    setv(cli, "K", "v1")
    path = store / "envs/production.yaml"
    theirs = path.read_text().replace(
        next(line for line in path.read_text().splitlines() if line.startswith("  K:")),
        next(line for line in path.read_text().splitlines() if line.startswith("  K:"))[:-4]
        + "AAAA")
    path.write_text(theirs)
    git(store, "commit", "-q", "--no-verify", "--no-gpg-sign", "-am", "hand edit")
    r = cli.as_(carol)("repair", "--reason", "undo the hand edit INC-9")
    assert r.code == 0, r.err
    assert ("warning: production: you hold no key to the values the repair puts back, so "
            "who else could read them was not checked") in r.err
    assert cli("get", "K", "--env", "production").out == "v1"


def test_a_redone_grant_proposal_still_counts_as_a_reader(cli, store, make_identity):
    """review14 B3: `propose --redo` deleted the old proposal, and with it the seat it
    had sealed (it may well have been pushed, and dave could fetch it): the rollback
    that put back a value under that key pair said nothing."""
    from hostile import proposal_id

    dave = make_identity("dave@example.com")
    first = setv(cli, "K", "read-by-dave")
    r = cli("access", "grant", dave.principal, dave.publine, "--env", "production",
            "--reason", "dave joins", "--propose")
    assert r.code == 0, r.err
    pid = proposal_id(r)
    setv(cli, "K", "second")
    assert cli("access", "rotate", "--env", "production", "--reason", "yearly").code == 0
    r = cli("propose", "--redo", pid)
    assert r.code == 0, r.err
    assert git(store, "for-each-ref", f"refs/envtrail/proposals/{pid}") == ""
    r = cli("rollback", "--env", "production", "--to", first, "--reason", "undo")
    assert r.code == 0, r.err
    assert "K is back to a value dave@example.com could read" in r.err


def test_a_repair_over_a_commit_that_only_re_encrypted_puts_nothing_back(cli, store, bob):
    """review14 R8: a forged commit that re-encrypted K to the very value it held made the
    repair say K was back to a value bob read; K never left it (his offboarding report
    already asked for it to be rotated), and nothing is put back."""
    from dataclasses import replace

    from envtrail.crypto.seal import Encryptor, unb64
    from envtrail.format import envfile

    seat(cli, bob)
    setv(cli, "K", "read-by-bob")
    unseat(cli, bob)
    path = store / "envs/production.yaml"
    env = envfile.parse(path.read_bytes(), "envs/production.yaml")
    again = Encryptor(unb64(env.public_key, 32), "production", env.version).encrypt(
        "K", "read-by-bob")
    path.write_bytes(envfile.render(replace(env, values={**env.values, "K": str(again)})))
    git(store, "commit", "-q", "--no-verify", "-am", "re-encrypted by hand")  # a finding
    r = cli("repair", "--reason", "drop the unsigned commit", "--dry-run")
    assert r.code == 0, r.err
    assert "could read" not in r.err


def test_a_value_put_back_by_a_rollback_is_followed_to_its_source(cli, store, bob,
                                                                  make_identity):
    """attack24 U3: bob read K=v1; K was v2 when his revoke rotated the key pair; dave,
    granted after, cannot open v1's version, and nothing but the rollback's own record
    links its copy of v1 to the one bob read: dave's revert of the next rotation said
    nothing where alice's warned."""
    dave = make_identity("dave@example.com")
    seat(cli, bob)
    first = setv(cli, "K", "v1")
    setv(cli, "K", "v2")
    unseat(cli, bob)
    seat(cli, dave)
    r = cli("rollback", "--env", "production", "--to", first, "--reason", "v2 broke it")
    assert r.code == 0 and WARNING in r.err, r.err
    rotated = setv(cli, "K", "v3")
    for who in (cli, cli.as_(dave)):
        r = who("revert", rotated, "--env", "production", "--reason", "undo", "--dry-run")
        assert r.code == 0, r.err
        assert WARNING in r.err


def test_a_revert_replayed_over_an_offboarding_is_named_by_sync(tmp_path, store, cli, bob):
    """attack24 U6: alice's second clone reverted K's rotation while bob was still seated
    there; sync replayed it onto the line where bob had since been offboarded, and put
    his value back with no word."""
    from test_sync import clone_as, head, make_world

    a, _, bare = make_world(tmp_path, store, cli, bob)
    setv(a, "K", "read-by-bob")
    rotated = setv(a, "K", "rotated")
    assert a("sync").code == 0
    a2 = clone_as(tmp_path, str(bare), cli.identity, "alice2")
    unseat(a, bob)
    assert a("sync").code == 0
    r = a2("revert", rotated, "--env", "production", "--reason", "the rotation broke it")
    assert r.code == 0 and "could read" not in r.err, r.err  # bob is seated where it is made
    r = a2("sync")
    assert r.code == 0, r.err
    assert head(a2) != head(a)
    assert f"after replaying your commits: {WARNING.removeprefix('warning: ')}" in r.err


def _say(*names):
    return (f"envtrail: warning: K is back to a value {', '.join(names)} could read, with a key no "
            "longer seated in production: rotate it")


def _decline_a_grant(cli, make_identity):
    """mallory's grant, proposed and never approved: the key pair is sealed to her all the
    same (attack22 S4)."""
    from hostile import proposal_id

    mallory = make_identity("mallory@example.com")
    r = cli("access", "grant", mallory.principal, mallory.publine, "--env", "production",
            "--reason", "mallory joins", "--propose")
    assert r.code == 0 and proposal_id(r), r.err


def _grant(cli, who):
    seat(cli, who)


def _revoke(cli, who):
    unseat(cli, who)


def test_a_value_a_returning_member_opens_is_held_by_its_own_key_pair_only(
        cli, store, bob, make_identity):
    """dave read K's first value, left (and bob before him: two rotations), came back after
    K was set again under the newest key pair, which he opens only then. The value he
    puts back is that one: mallory's declined grant sealed its key pair; bob never held
    it, nor the older key pairs, which held another value."""
    dave = make_identity("dave@example.com")
    for who in (bob, dave):
        _grant(cli, who)
    setv(cli, "K", "first")
    for who in (bob, dave):
        _revoke(cli, who)
    setv(cli, "K", "read-by-mallory")
    _grant(cli, dave)
    _decline_a_grant(cli, make_identity)
    later = setv(cli, "K", "later")
    r = cli.as_(dave)("revert", later, "--env", "production", "--reason", "undo", "--dry-run")
    assert r.code == 0, r.err
    assert _say("mallory@example.com") in r.err.splitlines()


def test_a_rotation_a_member_cannot_open_holds_what_it_re_encrypted(cli, store,
                                                                      make_identity):
    """dave read the value, was revoked (a rotation he cannot open) and came back after a
    later value: the rotation's key pair, sealed to mallory by a declined grant, held the
    value dave rolls back to, as it re-encrypted it (K held another value before that)."""
    dave = make_identity("dave@example.com")
    _grant(cli, dave)
    setv(cli, "K", "before")
    read = setv(cli, "K", "read-by-mallory")
    _revoke(cli, dave)
    _decline_a_grant(cli, make_identity)
    setv(cli, "K", "later")
    _grant(cli, dave)
    r = cli.as_(dave)("rollback", "--env", "production", "--to", read, "--reason", "undo",
                      "--dry-run")
    assert r.code == 0, r.err
    assert _say("mallory@example.com") in r.err.splitlines()


def test_a_member_who_joined_after_two_rotations_is_told_of_both_leavers(
        cli, store, bob, make_identity):
    """attack23 T3 with one rotation more: dave opens only the last re-encryption of the
    value, which is followed back through both to the key pair bob read it under."""
    carol, dave = make_identity("carol@example.com"), make_identity("dave@example.com")
    for who in (bob, carol):
        _grant(cli, who)
    setv(cli, "K", "read-by-bob")
    for who in (bob, carol):
        _revoke(cli, who)
    _grant(cli, dave)
    rotated = setv(cli, "K", "rotated-after-both")
    r = cli.as_(dave)("revert", rotated, "--env", "production", "--reason", "undo",
                      "--dry-run")
    assert r.code == 0, r.err
    assert _say("bob@example.com", "carol@example.com") in r.err.splitlines()


def test_a_proposal_made_before_the_environment_existed_reads_nothing_of_it(
        cli, store, make_identity):
    """A pending proposal's tree predates `env add qa`: it seals no key pair of qa, and a
    revert there is judged without it (it used to be read as holding qa's file)."""
    _decline_a_grant(cli, make_identity)
    assert cli("env", "add", "qa", "--reason", "launch").code == 0
    for value in ("1", "2"):
        assert cli("set", "K", "--env", "qa", "--reason", "set", input=value).code == 0
    last = git(store, "rev-parse", "HEAD").strip()
    r = cli("revert", last, "--env", "qa", "--reason", "undo")
    assert r.code == 0, r.err
    assert "could read" not in r.err
    assert cli("get", "K", "--env", "qa").out == "1"


def test_a_value_copied_by_two_rollbacks_is_followed_to_the_first(cli, store, bob,
                                                                  make_identity):
    """attack25 V4: the source of a restore was followed one step only: K=v1, read by bob,
    rolled back to once under the next key pair (which dave cannot open either) and again
    from that copy under dave's; dave's revert of the rotation after it said nothing."""
    dave = make_identity("dave@example.com")
    seat(cli, bob)
    first = setv(cli, "K", "v1")
    setv(cli, "K", "v2")
    unseat(cli, bob)
    r = cli("rollback", "--env", "production", "--to", first, "--reason", "v2 broke it")
    assert r.code == 0, r.err
    copy = git(store, "rev-parse", "HEAD").strip()
    setv(cli, "K", "v3")
    assert cli("access", "rotate", "--env", "production", "--reason", "yearly").code == 0
    seat(cli, dave)
    r = cli("rollback", "--env", "production", "--to", copy, "--reason", "v3 broke it")
    assert r.code == 0, r.err
    rotated = setv(cli, "K", "v4")
    for who in (cli, cli.as_(dave)):
        r = who("revert", rotated, "--env", "production", "--reason", "undo", "--dry-run")
        assert r.code == 0, r.err
        assert WARNING in r.err


def test_a_proposal_copy_nobody_signed_names_no_reader(cli, store, make_identity):
    """review14 R7: anyone who can push fills the remotes' copies of the proposal refs; an
    unsigned one (here the declined grant's tree, re-committed by hand) claims seats that
    nobody vouched for, and must not put names in the note. The signed original, under
    the same kind of ref, does."""
    from hostile import proposal_id

    dave = make_identity("dave@example.com")
    setv(cli, "K", "read-by-dave")
    r = cli("access", "grant", dave.principal, dave.publine, "--env", "production",
            "--reason", "dave joins", "--propose")
    ref, mirror = f"refs/envtrail/proposals/{proposal_id(r)}", \
        "refs/envtrail-remotes/origin/proposals/x"
    signed = git(store, "rev-parse", ref).strip()
    forged = git(store, "commit-tree", f"{ref}^{{tree}}", "-p", f"{signed}^",
                 "-m", "grant").strip()
    git(store, "update-ref", mirror, forged)
    git(store, "update-ref", "-d", ref)
    assert cli("access", "rotate", "--env", "production", "--reason", "rotate").code == 0
    last = setv(cli, "K", "after-rotation")
    r = cli("revert", last, "--env", "production", "--reason", "undo", "--dry-run")
    assert r.code == 0, r.err
    assert "K is back to a value" not in r.err and "dave" not in r.err
    git(store, "update-ref", mirror, signed)
    r = cli("revert", last, "--env", "production", "--reason", "undo", "--dry-run")
    assert "K is back to a value dave@example.com could read" in r.err
