"""Time-based one-time passwords (RFC 6238) with pyotp: secrets, otpauth URIs and code checks."""

from __future__ import annotations

import hmac
import re
from datetime import datetime

import pyotp

ISSUER = "Safeguard Flow"
# One 30-second step either side: a phone clock a little off, or a code typed as it changed.
_DRIFT_STEPS = 1
_CODE = re.compile(r"\d{6}")


def new_secret() -> str:
    """Return a new random base32 secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, email: str) -> str:
    """Return the otpauth:// URI an authenticator app can import by hand or from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def grouped(secret: str) -> str:
    """Return the secret in groups of four characters, easier to type into an app."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def normalise_code(code: str) -> str:
    """Return the code without the spaces and dashes people type inside it."""
    return re.sub(r"[\s-]", "", code)


def is_code_shaped(code: str) -> bool:
    """Tell whether a (normalised) code is six digits."""
    return _CODE.fullmatch(code) is not None


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """Return the time step whose code this is (one step of drift allowed), or None if none.

    Callers keep the step of the last accepted code and refuse steps up to it (RFC 6238, 5.2),
    so a code seen over someone's shoulder cannot be used a second time.
    """
    code = normalise_code(code)
    if not is_code_shaped(code):
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(at)
    for step in range(now_step - _DRIFT_STEPS, now_step + _DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def current_code(secret: str, at: datetime) -> str:
    """Return the code an authenticator app shows for the secret at this moment."""
    return pyotp.TOTP(secret).at(at)
