"""Password hashing with Argon2id (argon2-cffi): hash, verify, and spend the same time on misses."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults follow RFC 9106's second recommendation (Argon2id, 64 MiB, t=3, p=4).
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """Return the Argon2id hash to store for a password."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Tell whether the password matches the stored hash; a malformed hash never matches."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Tell whether a hash was made with weaker parameters than today's (rehash at sign-in)."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def spend_verification_time(password: str) -> None:
    """Verify against a throwaway hash, so an unknown email takes as long as a wrong password."""
    verify_password(_throwaway_hash(), password)


@lru_cache(maxsize=1)
def _throwaway_hash() -> str:
    return _HASHER.hash("not a password anyone has")
