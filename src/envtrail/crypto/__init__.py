"""Cryptography: keys, sealing, value encryption and SSH signatures.

Everything here is libsodium through PyNaCl; this package only adds the
documented encodings (OpenSSH key files, SSHSIG) and the key derivations
specified in docs/format.md. It imports nothing from format/ or gitstore/.
"""
