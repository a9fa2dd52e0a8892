"""A small OpenID Connect provider for tests, served over real HTTP on a free localhost port.

It publishes its discovery document and keys, answers the authorization request at once (no
login page: the test sets who signs in next, with which claims) and issues RS256 ID tokens with
Authlib's JOSE, so the app checks real signatures, issuer, audience, expiry and nonce.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from authlib.jose import JsonWebKey, jwt
from flask import Flask, jsonify, redirect, request
from werkzeug.serving import make_server

CLIENT_ID = "safeguard-test-client"
CLIENT_SECRET = "a-client-secret-for-tests"  # test data


@dataclass
class Provider:
    """The running provider: its issuer URL, and the claims of whoever signs in next."""

    issuer: str
    next_claims: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    signing_key: Any = None  # set to a stranger's key to forge a token
    key: Any = None  # the published key

    def sign_in_as(
        self, email: str, *, verified: bool = True, amr: list[str] | None = None
    ) -> None:
        """Who the provider says signs in next."""
        self.next_claims = {
            "sub": f"sub-{email}",
            "email": email,
            "email_verified": verified,
            "amr": amr or ["pwd"],
        }


def make_provider_app(provider: Provider, key: Any) -> Flask:
    """The provider's endpoints."""
    app = Flask("oidc-test-provider")

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        return jsonify(
            issuer=provider.issuer,
            authorization_endpoint=f"{provider.issuer}/authorize",
            token_endpoint=f"{provider.issuer}/token",
            jwks_uri=f"{provider.issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        )

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(keys=[key.as_dict(is_private=False)])

    @app.get("/authorize")
    def authorize() -> Any:
        args = request.args
        assert args["client_id"] == CLIENT_ID and args["response_type"] == "code"
        code = secrets.token_urlsafe(16)
        provider.codes[code] = {"nonce": args.get("nonce"), **provider.next_claims}
        query = urlencode({"code": code, "state": args["state"]})
        return redirect(f"{args['redirect_uri']}?{query}")

    @app.post("/token")
    def token() -> Any:
        auth = request.authorization
        given = (
            (auth.username, auth.password)
            if auth
            else (
                request.form.get("client_id"),
                request.form.get("client_secret"),
            )
        )
        if given != (CLIENT_ID, CLIENT_SECRET):
            return jsonify(error="invalid_client"), 401
        claims = provider.codes.pop(request.form.get("code", ""), None)
        if claims is None:
            return jsonify(error="invalid_grant"), 400
        now = int(time.time())
        body = {"iss": provider.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, **claims}
        signer = provider.signing_key or key
        id_token = jwt.encode({"alg": "RS256", "kid": signer.kid}, body, signer).decode()
        return jsonify(
            access_token=secrets.token_urlsafe(16), token_type="Bearer", id_token=id_token
        )

    return app


def new_key(kid: str | None = None) -> Any:
    """A fresh RSA signing key with a key id (a new one unless given)."""
    return JsonWebKey.generate_key(
        "RSA", 2048, is_private=True, options={"kid": kid or secrets.token_hex(4)}
    )


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[Provider]:
    """The provider, listening on a free port for the module's tests."""
    key = new_key()
    provider = Provider(issuer="", key=key)
    server = make_server("127.0.0.1", 0, make_provider_app(provider, key), threaded=True)
    provider.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(timeout=10)
