"""Git storage: finding the store, reading at revisions, signed commits, CAS ref moves.

Uses pygit2 only (plus envtrail.errors); signing is a callback so this room
never imports crypto. The lock and discovery helpers avoid pygit2 so that
fast paths can use them without loading it.
"""
