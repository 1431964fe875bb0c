"""A simulated LMS for LTI 1.3 tests, on loopback: it signs launches with its own key, hands
out access tokens to a tool whose signed assertion checks out, keeps the scores posted to its
gradebook, and lists its class (NRPS)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://lms.invalid"
CLIENT_ID = "wirelab-in-the-lms"
DEPLOYMENT = "deployment-1"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


def rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class Platform:
    def __init__(self, tool_public_key: str):
        self.private, self.public = rsa_pair()
        self.tool_public_key = tool_public_key
        self.scores: list[dict] = []
        self.tokens: set[str] = set()
        self.members: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def jwks(self) -> dict:
        jwk = json.loads(
            jwt.algorithms.RSAAlgorithm.to_jwk(serialization.load_pem_public_key(self.public.encode()))
        )
        return {"keys": [{**jwk, "kid": "platform-key", "alg": "RS256", "use": "sig"}]}

    def id_token(
        self, nonce: str, sub: str, roles: list[str], message_type: str = "LtiResourceLinkRequest", **claims
    ) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": claims.pop("name", sub),
            CLAIM + "deployment_id": DEPLOYMENT,
            CLAIM + "message_type": message_type,
            CLAIM + "version": "1.3.0",
            CLAIM + "roles": roles,
            CLAIM + "context": {"id": "course-42", "title": "Networks in the LMS"},
            CLAIM + "resource_link": {"id": claims.pop("link", "link-1")},
            **claims,
        }
        return jwt.encode(body, self.private, algorithm="RS256", headers={"kid": "platform-key"})


def _handler(platform: Platform):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def _send(self, status: int, data: dict, kind: str = "application/json") -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _authorized(self) -> bool:
            return self.headers.get("Authorization", "").removeprefix("Bearer ") in platform.tokens

        def do_POST(self) -> None:
            if self.path == "/token":
                form = {k: v[0] for k, v in parse_qs(self._body().decode()).items()}
                try:  # the tool proves who it is with an assertion signed by its own key
                    jwt.decode(form["client_assertion"], platform.tool_public_key, algorithms=["RS256"],
                               audience=f"{platform.url}/token")  # fmt: skip
                except (KeyError, jwt.InvalidTokenError) as exc:
                    return self._send(401, {"error": f"invalid_client: {exc}"})
                token = uuid.uuid4().hex
                platform.tokens.add(token)
                return self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                                        "scope": form.get("scope", "")})  # fmt: skip
            if self.path.endswith("/scores") and self._authorized():
                platform.scores.append({"lineitem": self.path, **json.loads(self._body())})
                return self._send(200, {})
            return self._send(401 if self.path.endswith("/scores") else 404, {"error": self.path})

        def do_GET(self) -> None:
            if self.path == "/memberships" and self._authorized():
                container = {"id": self.path, "context": {"id": "course-42"}, "members": platform.members}
                return self._send(200, container, "application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
            return self._send(404, {"error": self.path})

    return Handler
