# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MAAS REST API (2.0) transport: one signed ``requests.Session``, retries, answers and errors.

One session per client (connection reuse), OAuth 1.0 PLAINTEXT signing
(``consumer_key:token_key:token_secret``, empty consumer secret, as MAAS expects), TLS verified
by default, and the retry rules of ``retries.py``. Write requests that are not idempotent
(compose, allocate, deploy, create, reserve) are never re-sent blindly: the caller passes
``verify``, a callable that looks up whether the first attempt took effect. The API key never
appears in a message, a log line or a repr.
"""

from __future__ import annotations

import os

from urllib.parse import quote, urlsplit, urlunsplit

try:
    import requests
    from requests_oauthlib import OAuth1
    IMPORT_ERROR = None
    MISSING_LIBRARY = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test's import sanity test
    requests = OAuth1 = None
    IMPORT_ERROR = exc
    # The distribution to install: requests, or requests-oauthlib.
    MISSING_LIBRARY = (getattr(exc, "name", None) or "requests").split(".", maxsplit=1)[0].replace("_", "-")

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import redact_url, sentence
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import (
    MaasConfigError,
    MaasConnectionError,
    MaasOutcomeUnknown,
    MaasRetriesExhausted,
    MaasTLSError,
    describe_request,
    error_from_answer,
    redact_secrets,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.retries import answer_may_have_acted
from ansible_collections.lxdcp.maas.plugins.module_utils.retries import Retryable, Retrying, parse_retry_after, root_reason

API_PATH = "api/2.0/"
USER_AGENT = "lxdcp.maas"


# --------------------------------------------------------------------------------------------
# Settings


def parse_api_key(api_key):
    """Split ``consumer_key:token_key:token_secret``; raise MaasConfigError without echoing the key."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise MaasConfigError("api_key is missing: set the api_key option or the MAAS_API_KEY environment variable.")
    parts = api_key.strip().split(":")
    if len(parts) != 3 or not all(parts) or any(c.isspace() for c in api_key.strip()):
        raise MaasConfigError(
            "api_key is malformed: MAAS API keys have three non-empty parts separated by ':' "
            "(consumer_key:token_key:token_secret); the value given has %d part(s)%s. "
            "Copy the whole key from the MAAS UI (user preferences > API keys) or `maas apikey --username <user>`."
            % (len(parts), "" if len(parts) != 3 else ", one of them empty or containing whitespace")
        )
    return parts[0], parts[1], parts[2]


def normalize_url(url):
    """Return the MAAS root URL without a trailing slash (``http://maas:5240/MAAS``).

    Accepts the root or the API URL (``.../MAAS/api/2.0/``). Raises MaasConfigError for
    anything that is not an absolute http(s) URL, or one carrying credentials or a query.
    """
    if not isinstance(url, str) or not url.strip():
        raise MaasConfigError("url is missing: set the url option or the MAAS_URL environment variable "
                              "(for example http://maas.example.com:5240/MAAS).")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MaasConfigError(
            "url %r is not an absolute http(s) URL; give the MAAS root, for example http://maas.example.com:5240/MAAS"
            % redact_url(url.strip())
        )
    if parts.username or parts.password:
        raise MaasConfigError("url must not contain credentials (user:password@); authenticate with api_key instead.")
    if parts.query or parts.fragment:
        raise MaasConfigError("url %r must not have a query string or fragment; give the MAAS root, "
                              "for example http://maas.example.com:5240/MAAS" % redact_url(url.strip()))
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise MaasConfigError("url %r has an invalid port" % redact_url(url.strip()))
    path = parts.path.rstrip("/")
    for suffix in ("/api/2.0", "/api"):
        if path.endswith(suffix):
            path = path[:-len(suffix)]
            break
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def encode_params(params):
    """Turn a dict into form/query pairs: lists repeat the key, booleans become true/false, None is dropped."""
    pairs = []
    if not params:
        return pairs
    items = params.items() if isinstance(params, dict) else params
    for key, value in items:
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):
                item = "true" if item else "false"
            pairs.append((key, str(item)))
    return pairs


# --------------------------------------------------------------------------------------------
# The transport


class MaasTransport(Retrying):
    """Signed requests to one MAAS with retries; see docs/design.md ("MAAS client contract").

    ``logger`` is a callable taking one string (or None). ``sleep``, ``clock`` and ``rand``
    exist so that tests can replace time and jitter; production code leaves them alone.
    """

    config_error = MaasConfigError

    def __init__(self, url, api_key, validate_certs=True, ca_path=None, timeout=30, retries=5,
                 backoff_base=0.5, backoff_max=30, logger=None, sleep=None, clock=None, rand=None, session=None):
        if MISSING_LIBRARY:
            raise MaasConfigError("the Python library %r is required: %s" % (MISSING_LIBRARY, IMPORT_ERROR))
        self.url = normalize_url(url)
        self.api_url = self.url + "/" + API_PATH
        consumer_key, token_key, token_secret = parse_api_key(api_key)
        # Redacted from every answer kept in an error, a message or a log line.
        self._secrets = tuple(sorted({token_secret, quote(token_secret, safe="")}, key=len, reverse=True))
        self.setup_retries(timeout, retries, backoff_base, backoff_max, logger, sleep, clock, rand)
        if ca_path and not os.path.exists(ca_path):
            raise MaasConfigError("ca_path %s does not exist; give the PEM file of the CA that signed the certificate "
                                  "of MAAS" % ca_path)
        self.validate_certs = bool(validate_certs)
        self.ca_path = ca_path
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/json"
        self.session.auth = OAuth1(
            consumer_key,
            client_secret="",
            resource_owner_key=token_key,
            resource_owner_secret=token_secret,
            signature_method="PLAINTEXT",
            signature_type="AUTH_HEADER",
        )
        # Passed with every request: a session-level value would lose to REQUESTS_CA_BUNDLE.
        self._verify = (ca_path or True) if self.validate_certs else False

    def __repr__(self):
        return "%s(url=%r, validate_certs=%r, timeout=%r, retries=%r)" % (
            type(self).__name__, self.url, self.validate_certs, self.timeout, self.retries)

    # -- requests --------------------------------------------------------------------------

    def get(self, path, params=None, op=None):
        """GET ``path`` (relative to api/2.0/) and return the decoded answer."""
        return self.request("GET", path, params=params, op=op)

    def post(self, path, data=None, op=None, idempotent=False, verify=None, params=None, timeout=None):
        """POST a form to ``path``; see ``request`` for ``idempotent``, ``verify`` and ``timeout``."""
        return self.request("POST", path, params=params, data=data, op=op, idempotent=idempotent, verify=verify,
                            timeout=timeout)

    def put(self, path, data=None):
        """PUT a form to ``path`` (an update: safe to repeat)."""
        return self.request("PUT", path, data=data)

    def delete(self, path, params=None):
        """DELETE ``path``; parameters go in the query string, as MAAS reads them there."""
        return self.request("DELETE", path, params=params)

    def request(self, method, path, params=None, data=None, op=None, idempotent=None, verify=None, timeout=None):
        """Send one API request with retries and return the decoded body (None for 204).

        ``timeout`` (seconds) replaces the client's read timeout for this request.

        Retried (``retries.py``): connection errors and timeouts, 502, 503, 504, and 409 carrying
        Retry-After, up to ``retries`` extra attempts. ``idempotent`` defaults to True for
        everything but POST. A non-idempotent POST is re-sent only after ``verify()`` returned None
        (the first attempt did not take effect); when ``verify()`` returns a value, that value is the
        result. Without ``verify`` it is retried only when MAAS certainly did not act on it (no
        connection was made, or MAAS answered 409/503 with Retry-After); otherwise
        ``MaasOutcomeUnknown`` is raised.
        """
        if idempotent is None:
            idempotent = method != "POST"
        what = describe_request(method, path, op)
        url = self.api_url + path.lstrip("/")
        if not url.endswith("/"):
            url += "/"
        query = ([("op", op)] if op else []) + encode_params(params)
        body = encode_params(data) if data is not None else None

        def send(attempt):
            response = self.attempt_request(attempt, what, method, url, timeout, params=query, data=body)
            status = response.status_code
            if status < 300:
                return self._decode(response)
            failure = self._http_error(response, method, path, op)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            reached = answer_may_have_acted(status, idempotent, retry_after)
            if reached is None:
                raise failure
            raise Retryable(failure, reached=reached, retry_after=retry_after)

        def gave_up(failure, attempts, seconds):
            return MaasRetriesExhausted(
                "Gave up on %s after %d attempt(s) in %.1f s: %s" % (what, attempts, seconds, failure.message),
                last_error=failure, attempts=attempts, status=failure.status, method=method, path=path, op=op,
                body=failure.body,
            )

        def outcome_unknown(failure):
            return MaasOutcomeUnknown(
                "%s failed with an unknown outcome (%s) and cannot be verified, so it is not sent again. "
                "Check MAAS for its effect before re-running." % (what, failure.message),
                status=failure.status, method=method, path=path, op=op, body=failure.body,
            )

        return self.with_retries(send, what, idempotent=idempotent, verify=verify, gave_up=gave_up,
                                 outcome_unknown=outcome_unknown)

    # -- answers and errors ----------------------------------------------------------------

    @staticmethod
    def _decode(response):
        if response.status_code == 204 or not response.content:
            return None
        if "json" not in response.headers.get("Content-Type", "").lower():
            return response.text
        try:
            return response.json()
        except ValueError:
            return response.text

    def _http_error(self, response, method, path, op):
        return error_from_answer(
            response.status_code, response.reason, redact_secrets(response.text or "", self._secrets), method, path, op,
            location=redact_secrets(response.headers.get("Location", ""), self._secrets))

    def _connection_error(self, exc, what, reason):
        return MaasConnectionError(
            "Cannot reach MAAS at %s for %s: %s Check url (MAAS_URL), that the MAAS region controller runs and that "
            "this host can reach it." % (self.url, what, sentence(reason))
        )

    def _tls_error(self, exc, what):
        return MaasTLSError(
            "TLS connection to MAAS at %s failed for %s: %s If MAAS uses a private CA, set ca_path to its CA "
            "bundle; validate_certs: false turns verification off (not recommended)." % (self.url, what, sentence(root_reason(exc)))
        )
