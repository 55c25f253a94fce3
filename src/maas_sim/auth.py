"""0-legged OAuth 1.0 as MAAS (piston3's ``OAuthAuthentication``) checks it.

* The request counts as OAuth when all six ``oauth_*`` parameters appear in the
  ``Authorization`` header text or in the query/form parameters; otherwise it
  is anonymous (and gets 401 ``Forbidden`` where no anonymous handler exists).
* Parameters come from the POST form (POST only), then the ``OAuth ...``
  header (entries containing ``realm`` are skipped, quotes optional, values
  percent-decoded), then the query string, later sources winning.
* Checks, in piston's order: ``oauth_version`` (1.0 when given), consumer key,
  token, timestamp (at most 300 s old), nonce (never reused within that window,
  recorded before the signature is checked), signature method, signature
  (``PLAINTEXT``: ``<consumer secret>&<token secret>`` with an empty consumer
  secret, as ``create_auth_token`` in ``maasserver/models/user.py`` sets it).
* A wrong signature answers ``Invalid signature. Expected signature base string:
  <base>`` with the base string of the signature method (piston's
  ``OAuthServer._check_signature``): for ``PLAINTEXT`` that is
  ``escape(consumer secret) & escape(token secret)``, i.e. ``&`` and the real token
  secret of the token named in the request; for ``HMAC-SHA1`` it is
  ``METHOD&url&parameters`` (no secret). Clients must redact it.
* Failures answer 401 ``Authorization Error: ...`` with
  ``WWW-Authenticate: OAuth realm="OAuth"``.
"""

from __future__ import annotations

import time
import urllib.parse

from .errors import ApiError
from .params import Params

REQUIRED = ("oauth_consumer_key", "oauth_token", "oauth_signature", "oauth_signature_method", "oauth_timestamp", "oauth_nonce")
TIMESTAMP_WINDOW = 300


class OAuthFailure(Exception):
    """An OAuth error message as piston phrases it."""


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, "text/html; charset=utf-8", {"WWW-Authenticate": 'OAuth realm="OAuth"'})


def challenge() -> ApiError:
    """piston's ``rc.FORBIDDEN`` challenge: 401 with body ``Forbidden``."""
    return ApiError(401, "Forbidden", "text/html; charset=utf-8")


def split_header(header: str) -> dict:
    """piston's ``OAuthRequest._split_header`` on the text after ``OAuth ``."""
    params = {}
    for part in header.split(","):
        if "realm" in part:
            continue
        part = part.strip()
        if not part:
            continue
        name, value = part.split("=", 1) if "=" in part else (part, "")
        params[name] = urllib.parse.unquote(value.strip('"'))
    return params


def is_oauth_request(header: str, query: Params, post: Params) -> bool:
    """piston's ``is_valid_request``: every required name in the header text, or in the parameters."""
    if all(name in header for name in REQUIRED):
        return True
    return all(name in query or name in post for name in REQUIRED)


def collect(method: str, header: str, query: Params, post: Params) -> dict:
    """OAuth parameters from form (POST), header and query, later ones overriding."""
    params = {}
    if method == "POST":
        params.update({key: post.get(key) for key in post.keys()})
    if header.startswith("OAuth "):
        try:
            params.update(split_header(header[6:]))
        except Exception as exc:  # pylint: disable=broad-except
            raise OAuthFailure("Unable to parse OAuth parameters from Authorization header.") from exc
    for key in query.keys():
        # parse_qs then unquote again: piston decodes query values twice.
        params[key] = urllib.parse.unquote(query.get(key))
    return params


def _escape(value: str) -> str:
    return urllib.parse.quote(value, safe="~")


def signature_base_string(signature_method: str, http_method: str, url: str, params: dict, token_secret: str) -> str:
    """The base string piston prints after ``Expected signature base string:`` (consumer secret: empty)."""
    if signature_method == "PLAINTEXT":
        return "&" + _escape(token_secret)
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if (parts.scheme, netloc[-3:]) == ("http", ":80") or (parts.scheme, netloc[-4:]) == ("https", ":443"):
        netloc = netloc.rsplit(":", 1)[0]
    pairs = sorted((_escape(key), _escape(value)) for key, value in params.items() if key != "oauth_signature")
    normalized = "&".join(f"{key}={value}" for key, value in pairs)
    return "&".join(_escape(part) for part in (http_method.upper(), f"{parts.scheme}://{netloc}{parts.path}", normalized))


def verify(state, params: dict, http_method: str = "GET", url: str = ""):
    """Return the user the parameters authenticate, or raise ``OAuthFailure``."""

    def param(name: str) -> str:
        if name not in params:
            raise OAuthFailure(f"Parameter not found: {name}")
        return params[name]

    version = params.get("oauth_version")
    if version and version != "1.0":
        raise OAuthFailure(f"OAuth version {version} not supported.")
    consumer_key = param("oauth_consumer_key")
    owner = None
    for user in state.tables["user"].values():
        if any(key["consumer"] == consumer_key for key in user.keys):
            owner = user
            break
    if owner is None:
        raise OAuthFailure("Invalid consumer.")
    token_key = param("oauth_token")
    token = next((key for key in owner.keys if key["consumer"] == consumer_key and key["token"] == token_key), None)
    if token is None:
        raise OAuthFailure(f"Invalid access token: {token_key}")
    timestamp = int(param("oauth_timestamp"))  # piston lets a non-number through as a 500
    nonce = param("oauth_nonce")
    now = int(time.time())
    if now - timestamp > TIMESTAMP_WINDOW:
        raise OAuthFailure(f"Expired timestamp: given {timestamp} and now {now} has a greater difference than threshold {TIMESTAMP_WINDOW}")
    if not state.use_nonce(consumer_key, token_key, nonce, TIMESTAMP_WINDOW):
        raise OAuthFailure(f"Nonce already used: {nonce}")
    method = params.get("oauth_signature_method", "PLAINTEXT")
    if method not in ("PLAINTEXT", "HMAC-SHA1"):
        raise OAuthFailure(f"Signature method {method} not supported try one of the following: PLAINTEXT, HMAC-SHA1")
    signature = params.get("oauth_signature")
    if signature is None:
        raise OAuthFailure("Missing signature.")
    if method != "PLAINTEXT" or signature != "&" + _escape(token["secret"]):
        # As piston does: the expected base string, for PLAINTEXT the real token secret.
        base = signature_base_string(method, http_method, url, params, token["secret"])
        raise OAuthFailure(f"Invalid signature. Expected signature base string: {base}")
    return owner


def authenticate(state, method: str, header: str, query: Params, post: Params, url: str = ""):
    """The authenticated user, None for an anonymous request, or an ``ApiError``.

    ``url`` is the request's absolute URL (only the HMAC-SHA1 base string of a wrong signature uses it).
    """
    if not is_oauth_request(header, query, post):
        return None
    try:
        return verify(state, collect(method, header, query, post), method, url)
    except OAuthFailure as failure:
        message = str(failure)
        if message == "Invalid consumer.":
            raise _unauthorized("Authorization Error: Invalid API key.") from None
        raise _unauthorized(f"Authorization Error: {message!r}") from None
    except ValueError as exc:
        raise ApiError(500, str(exc)) from None
