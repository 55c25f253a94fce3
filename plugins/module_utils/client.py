# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MAAS REST API (2.0) client shared by every module of lxdcp.maas.

One ``requests.Session`` per client (connection reuse), OAuth 1.0 PLAINTEXT signing
(``consumer_key:token_key:token_secret``, empty consumer secret, as MAAS expects), bounded
retries with exponential backoff and jitter, typed errors whose messages say what was asked,
what MAAS answered and what to do, and a polling helper for machine states.

Write requests that are not idempotent (compose, allocate, deploy, create, reserve) are never
re-sent blindly: the caller passes ``verify``, a callable that looks up whether the first
attempt took effect (for example compose with a hostname -> ``GET /machines/?hostname=``).
The API key never appears in a message, a log line or a repr.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import re
import time

from urllib.parse import quote, urlsplit, urlunsplit

try:
    import requests
    import requests.exceptions
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test's import sanity test
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

try:
    from requests_oauthlib import OAuth1
    HAS_REQUESTS_OAUTHLIB = True
    REQUESTS_OAUTHLIB_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test's import sanity test
    OAuth1 = None
    HAS_REQUESTS_OAUTHLIB = False
    REQUESTS_OAUTHLIB_IMPORT_ERROR = exc

try:
    from urllib3.exceptions import ConnectTimeoutError as _Urllib3ConnectTimeout
    from urllib3.exceptions import NewConnectionError as _Urllib3NewConnection
    _NEVER_CONNECTED = (_Urllib3NewConnection, _Urllib3ConnectTimeout)
except ImportError:  # pragma: no cover - urllib3 comes with requests
    _NEVER_CONNECTED = ()


API_PATH = "api/2.0/"
# MAAS composes synchronously and gives the hypervisor driver 120 s; a shorter read timeout would
# turn every slow compose into a lost answer.
COMPOSE_TIMEOUT = 150
USER_AGENT = "lxdcp.maas"

# Machine status names (``status_name``) as MAAS reports them.
READY = "Ready"
ALLOCATED = "Allocated"
DEPLOYING = "Deploying"
DEPLOYED = "Deployed"
RELEASING = "Releasing"
NEW = "New"
COMMISSIONING = "Commissioning"
FAILED_STATES = frozenset([
    "Failed commissioning",
    "Failed deployment",
    "Releasing failed",
    "Failed disk erasing",
    "Failed testing",
    "Broken",
])

_BODY_LIMIT = 600
REDACTED = "<redacted>"

# Credentials an answer of MAAS (or a proxy) can carry back. piston, MAAS's API layer, answers a wrong
# token secret with 401 "Authorization Error: 'Invalid signature. Expected signature base string:
# &<the real token secret>'", and a wrong token key with "Invalid access token: <token key>".
_SECRET_PATTERNS = (
    re.compile(r"(signature base string:\s*)[^\s'\"]+", re.IGNORECASE),
    re.compile(r"(access token:\s*)[^\s'\"]+", re.IGNORECASE),
    re.compile(r"(oauth_(?:signature|token)\b\"?\s*(?:=|:|%3D)\s*\"?)&?[^\s'\",&]+", re.IGNORECASE),
)


# --------------------------------------------------------------------------------------------
# Errors


class MaasError(Exception):
    """Base of every error the client raises.

    ``message`` is complete and safe to show: it says what was asked, what MAAS said and what to
    do, and never contains the API key. ``status``, ``method``, ``path``, ``op`` and ``body``
    describe the failed request when there was one.
    """

    def __init__(self, message, status=None, method=None, path=None, op=None, body=None):
        super(MaasError, self).__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.op = op
        self.body = body

    def __str__(self):
        return self.message

    def to_dict(self):
        """JSON-safe description for module results."""
        return {
            "type": type(self).__name__,
            "status": self.status,
            "method": self.method,
            "path": self.path,
            "op": self.op,
            "body": self.body,
        }


class MaasConfigError(MaasError):
    """Bad client settings (URL, API key, CA path), detected before any request."""


class MaasAuthError(MaasError):
    """401 or 403: the key is wrong, revoked, or its user may not do this."""


class MaasNotFound(MaasError):
    """404: the object does not exist (or, for IP addresses, MAAS's "already in use")."""


class MaasValidationError(MaasError):
    """400: MAAS rejected the parameters; ``fields`` holds MAAS's per-field messages."""

    def __init__(self, message, fields=None, **kwargs):
        super(MaasValidationError, self).__init__(message, **kwargs)
        self.fields = fields or {}


class MaasConflict(MaasError):
    """409: the object is in a state that does not allow the operation."""


class MaasUnavailable(MaasError):
    """502/503/504: MAAS (or a component behind it) could not serve the request."""


class MaasGone(MaasError):
    """410: the endpoint no longer exists (VM hosts were removed from MAAS after 3.8)."""


class MaasConnectionError(MaasError):
    """The URL cannot be reached (refused, DNS, timeout)."""


class MaasTLSError(MaasError):
    """TLS handshake or certificate verification failed."""


class MaasRetriesExhausted(MaasError):
    """The retry budget is spent; ``last_error`` is the last failure and ``attempts`` the count."""

    def __init__(self, message, last_error=None, attempts=0, **kwargs):
        super(MaasRetriesExhausted, self).__init__(message, **kwargs)
        self.last_error = last_error
        self.attempts = attempts


class MaasOutcomeUnknown(MaasError):
    """A non-idempotent request failed in a way that leaves its effect unknown and cannot be verified."""


class MaasWaitError(MaasError):
    """A machine did not reach the wanted state: it failed, or the deadline passed.

    ``state`` is the last status name seen, ``timed_out`` tells which of the two happened and
    ``machine`` is the last machine object read (or None).
    """

    def __init__(self, message, state=None, timed_out=False, machine=None, **kwargs):
        super(MaasWaitError, self).__init__(message, **kwargs)
        self.state = state
        self.timed_out = timed_out
        self.machine = machine


_STATUS_ERRORS = {
    400: MaasValidationError,
    401: MaasAuthError,
    403: MaasAuthError,
    404: MaasNotFound,
    409: MaasConflict,
    410: MaasGone,
    502: MaasUnavailable,
    503: MaasUnavailable,
    504: MaasUnavailable,
}

_HINTS = {
    400: "Check the values given to the task; MAAS names the offending field.",
    401: "Check api_key (MAAS_API_KEY): it must be a current key of a MAAS user "
         "(MAAS UI > user preferences > API keys, or `maas apikey --username <user>`).",
    403: "The API key's user lacks the permission; composing VMs, deploying and editing interfaces need a MAAS admin.",
    404: "The object does not exist in this MAAS (deleted, misspelled, or not visible to this user).",
    409: "The machine or object is in a state that does not allow this; wait for MAAS to finish the current action or "
         "change its state first.",
    502: "A proxy in front of MAAS could not reach the region controller; retry later.",
    503: "MAAS could not serve the request; the message above says why.",
    504: "MAAS or a proxy timed out; the operation may still complete, check MAAS before retrying.",
}

GONE_HINT = (
    "This MAAS no longer supports VM hosts: KVM/LXD VM host support was removed from MAAS after 3.8 and its "
    "/vm-hosts/ and /pods/ endpoints answer 410 Gone. Use MAAS 3.8 or older to compose LXD VMs, provision the "
    "control plane on machines MAAS manages directly (provisioning_mode: bare-metal), or drive LXD directly "
    "(for example with lxd-multi-scheduler)."
)


def describe_request(method, path, op=None):
    """``POST /vm-hosts/3/?op=compose``: a request as it appears in messages and logs."""
    text = "%s /%s" % (method, path.lstrip("/"))
    if op:
        text += "?op=%s" % op
    return text


def redact_secrets(text, secrets=()):
    """``text`` with OAuth credentials replaced by ``<redacted>``.

    Covers what MAAS echoes (piston's "Expected signature base string: ...", "Invalid access
    token: ...") and any ``oauth_signature``/``oauth_token`` value, plus every literal in
    ``secrets`` (the client passes its token secret, also percent-encoded).
    """
    if not text:
        return text
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _short(text, limit=_BODY_LIMIT):
    text = (text or "").strip()
    if len(text) > limit:
        return text[:limit] + "... (%d characters)" % len(text)
    return text


def _format_fields(fields):
    """Flatten MAAS's ``{"field": ["msg", ...]}`` validation dict into one line."""
    parts = []
    for name in sorted(fields):
        messages = fields[name]
        if not isinstance(messages, list):
            messages = [messages]
        label = "" if name == "__all__" else "%s: " % name
        parts.append(label + " ".join(str(m) for m in messages))
    return "; ".join(parts)


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
            % _redact_url(url.strip())
        )
    if parts.username or parts.password:
        raise MaasConfigError("url must not contain credentials (user:password@); authenticate with api_key instead.")
    if parts.query or parts.fragment:
        raise MaasConfigError("url %r must not have a query string or fragment; give the MAAS root, "
                              "for example http://maas.example.com:5240/MAAS" % _redact_url(url.strip()))
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise MaasConfigError("url %r has an invalid port" % _redact_url(url.strip()))
    path = parts.path.rstrip("/")
    for suffix in ("/api/2.0", "/api"):
        if path.endswith(suffix):
            path = path[:-len(suffix)]
            break
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _redact_url(url):
    """Drop user:password@ from a URL for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" in parts.netloc:
        return urlunsplit((parts.scheme, "***@" + parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, parts.fragment))
    return url


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


def parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


# --------------------------------------------------------------------------------------------
# The client


class MaasClient(object):
    """A MAAS API client; see docs/design.md ("MAAS client contract").

    ``logger`` is a callable taking one string (or None). ``sleep``, ``clock`` and ``rand``
    exist so that tests can replace time and jitter; production code leaves them alone.
    """

    def __init__(self, url, api_key, validate_certs=True, ca_path=None, timeout=30, retries=5,
                 backoff_base=0.5, backoff_max=30, logger=None, sleep=None, clock=None, rand=None, session=None):
        if not HAS_REQUESTS:
            raise MaasConfigError("the Python library 'requests' is required: %s" % REQUESTS_IMPORT_ERROR)
        if not HAS_REQUESTS_OAUTHLIB:
            raise MaasConfigError("the Python library 'requests-oauthlib' is required: %s" % REQUESTS_OAUTHLIB_IMPORT_ERROR)
        self.url = normalize_url(url)
        self.api_url = self.url + "/" + API_PATH
        consumer_key, token_key, token_secret = parse_api_key(api_key)
        # Redacted from every answer kept in an error, a message or a log line.
        self._secrets = tuple(sorted({token_secret, quote(token_secret, safe="")}, key=len, reverse=True))
        if timeout is None or timeout <= 0:
            raise MaasConfigError("timeout must be a positive number of seconds, not %r" % (timeout,))
        if retries is None or retries < 0:
            raise MaasConfigError("retries must be 0 or more, not %r" % (retries,))
        if ca_path and not os.path.exists(ca_path):
            raise MaasConfigError("ca_path %s does not exist; give the PEM file of the CA that signed the certificate "
                                  "of MAAS" % ca_path)
        self.validate_certs = bool(validate_certs)
        self.ca_path = ca_path
        self.timeout = timeout
        self.retries = int(retries)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self._logger = logger
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self._rand = rand or random.random
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
        self.requests_sent = 0
        self._username = None

    def __repr__(self):
        return "MaasClient(url=%r, validate_certs=%r, timeout=%r, retries=%r)" % (
            self.url, self.validate_certs, self.timeout, self.retries)

    # -- logging ---------------------------------------------------------------------------

    def log(self, message):
        """Send one troubleshooting line to the logger (never pass secrets)."""
        if self._logger is not None:
            self._logger(message)

    # -- low level -------------------------------------------------------------------------

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

        Retried: connection errors and timeouts, 502, 503, 504, and 409 carrying Retry-After,
        up to ``retries`` extra attempts. ``idempotent`` defaults to True for everything but
        POST. A non-idempotent POST is re-sent only after ``verify()`` returned None (the first
        attempt did not take effect); when ``verify()`` returns a value, that value is the
        result. Without ``verify`` it is retried only when MAAS certainly did not act on it
        (no connection was made, or MAAS answered 409/503 with Retry-After); otherwise
        ``MaasOutcomeUnknown`` is raised. A 503 without Retry-After on a non-idempotent POST is
        MAAS's final answer (for example "Unable to compose ...") and is raised at once.
        """
        if idempotent is None:
            idempotent = method != "POST"
        write = method != "GET"
        what = describe_request(method, path, op)
        url = self.api_url + path.lstrip("/")
        if not url.endswith("/"):
            url += "/"
        query = ([("op", op)] if op else []) + encode_params(params)
        body = encode_params(data) if data is not None else None
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            retry_after = None
            sent_start = self._clock()
            try:
                self.requests_sent += 1
                response = self.session.request(
                    method, url, params=query, data=body, timeout=timeout or self.timeout, verify=self._verify,
                    allow_redirects=False)
            except requests.exceptions.SSLError as exc:
                raise self._tls_error(exc, what)
            except requests.exceptions.RequestException as exc:
                # Connection errors, timeouts, and answers cut off mid-body (ChunkedEncodingError):
                # only a failed connect proves that MAAS never saw the request.
                failure = self._connection_error(exc, what, timeout)
                reached = not _never_connected(exc)
                self.log("%s -> %s (attempt %d)" % (what, failure.reason, attempt))
            else:
                elapsed = self._clock() - sent_start
                status = response.status_code
                self.log("%s -> %d (attempt %d, %.3f s)" % (what, status, attempt, elapsed))
                if status < 300:
                    return self._decode(response)
                failure = self._http_error(response, method, path, op)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if status == 409 and retry_after is not None:
                    reached = False  # MAAS rolled the transaction back and asks us to come back
                elif status == 503:
                    if not idempotent and retry_after is None:
                        raise failure
                    reached = False  # MAAS answered: it refused, with Retry-After for writes
                elif status in (502, 504):
                    reached = True  # a gateway error says nothing about what MAAS did
                else:
                    raise failure
            if attempt > self.retries:
                raise MaasRetriesExhausted(
                    "Gave up on %s after %d attempt(s) in %.1f s: %s" % (
                        what, attempt, self._clock() - started, failure.message),
                    last_error=failure, attempts=attempt, status=failure.status, method=method, path=path, op=op,
                    body=failure.body,
                )
            if not idempotent:
                if verify is not None:
                    found = verify()
                    if found is not None:
                        self.log("%s: the earlier attempt took effect (verified), not sending it again" % what)
                        return found
                    self.log("%s: verified that the earlier attempt did not take effect" % what)
                elif reached:
                    raise MaasOutcomeUnknown(
                        "%s failed with an unknown outcome (%s) and cannot be verified, so it is not sent again. "
                        "Check MAAS for its effect before re-running." % (what, failure.message),
                        status=failure.status, method=method, path=path, op=op, body=failure.body,
                    )
            delay = self.backoff_delay(attempt, retry_after)
            self.log("retry %d/%d of %s in %.2f s%s: %s" % (
                attempt, self.retries, what, delay,
                " (Retry-After %.0f s)" % retry_after if retry_after is not None else "", _first_line(failure.message)))
            self._sleep(delay)

    def backoff_delay(self, attempt, retry_after=None):
        """Delay before retry number ``attempt`` (1-based): exponential with equal jitter, capped.

        A Retry-After from MAAS is a lower bound, also capped at ``backoff_max``.
        """
        base = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        delay = base / 2 + base / 2 * self._rand()
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.backoff_max)

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
        status = response.status_code
        what = describe_request(method, path, op)
        text = redact_secrets(response.text or "", self._secrets)
        fields = None
        said = _short(text) or "(empty answer)"
        if status == 400:
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = None
            if isinstance(decoded, dict):
                fields = decoded
                said = _format_fields(decoded)
        if 300 <= status < 400:
            location = redact_secrets(response.headers.get("Location", ""), self._secrets)
            message = ("MAAS answered %s with a redirect (%d) to %s; set url to the MAAS root it points to "
                       "(redirects are not followed, they would drop the request body)." % (
                           what, status, _redact_url(location)))
            return MaasError(message, status=status, method=method, path=path, op=op, body=_short(text))
        cls = _STATUS_ERRORS.get(status, MaasError)
        hint = _HINTS.get(status, "MAAS failed internally; its logs (regiond.log) have the details.")
        if status == 410:
            hint = GONE_HINT if _is_vm_host_path(path) else "This MAAS no longer offers this endpoint."
        if status == 404 and "<html" in text.lower():
            said = "(a web page, not a MAAS API answer)"
            hint = "Check that url is the MAAS root, for example http://maas.example.com:5240/MAAS."
        if status == 401:
            said = said or "unauthorized"
        message = "MAAS refused %s: %d %s: %s. %s" % (what, status, response.reason or "", said, hint)
        kwargs = dict(status=status, method=method, path=path, op=op, body=_short(text))
        if cls is MaasValidationError:
            return cls(message, fields=fields, **kwargs)
        return cls(message, **kwargs)

    def _connection_error(self, exc, what, timeout=None):
        if isinstance(exc, requests.exceptions.Timeout) and not isinstance(exc, requests.exceptions.ConnectTimeout):
            reason = "no answer within %s s (timeout)" % (timeout or self.timeout)
        else:
            reason = _root_reason(exc)
        error = MaasConnectionError(
            "Cannot reach MAAS at %s for %s: %s. Check url (MAAS_URL), that the MAAS region controller runs and that "
            "this host can reach it." % (self.url, what, reason)
        )
        error.reason = reason
        return error

    def _tls_error(self, exc, what):
        return MaasTLSError(
            "TLS connection to MAAS at %s failed for %s: %s. If MAAS uses a private CA, set ca_path to its CA "
            "bundle; validate_certs: false turns verification off (not recommended)." % (self.url, what, _root_reason(exc))
        )

    # -- polling ---------------------------------------------------------------------------

    def poll(self, probe, timeout, what, start=0.5, factor=1.5, cap=10.0):
        """Call ``probe()`` until it reports done or ``timeout`` seconds pass.

        ``probe`` returns ``(done, value, state)``; ``state`` is a short text for logs and the
        timeout message; it may raise to stop (for example MaasWaitError on a failed state).
        Delays start at ``start`` seconds and grow by ``factor`` up to ``cap``; the last sleep
        is cut to the deadline. Returns ``value``; raises MaasWaitError on timeout.
        """
        deadline = self._clock() + timeout
        delay = start
        polls = 0
        while True:
            polls += 1
            done, value, state = probe()
            if done:
                self.log("%s: done after %d poll(s): %s" % (what, polls, state))
                return value
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise MaasWaitError(
                    "Timed out after %s s waiting for %s; last state: %s. Raise wait_timeout if MAAS is just slow, "
                    "or check the machine's events in MAAS." % (timeout, what, state),
                    state=state, timed_out=True, machine=value if isinstance(value, dict) else None,
                )
            pause = min(delay, remaining)
            self.log("%s: %s, next check in %.2f s" % (what, state, pause))
            self._sleep(pause)
            delay = min(cap, delay * factor)

    def wait_for_machine(self, system_id, targets, timeout, failures=FAILED_STATES, what=None):
        """Wait until machine ``system_id`` has a ``status_name`` in ``targets`` and return it.

        A status in ``failures`` raises MaasWaitError with MAAS's ``status_message`` and
        ``error_description``; so does the deadline.
        """
        targets = frozenset([targets]) if isinstance(targets, str) else frozenset(targets)
        what = what or "machine %s to become %s" % (system_id, " or ".join(sorted(targets)))

        def probe():
            machine = self.get_machine(system_id)
            status = machine.get("status_name")
            if status in targets:
                return True, machine, status
            if status in failures:
                raise MaasWaitError(
                    "Machine %s (%s) reached %r while waiting for %s%s." % (
                        machine.get("hostname"), system_id, status, " or ".join(sorted(targets)), machine_reason(machine)),
                    state=status, machine=machine,
                )
            return False, machine, _state_text(machine)

        return self.poll(probe, timeout, what)

    def wait_for_machine_gone(self, system_id, timeout, hostname=None):
        """Wait until no machine with ``system_id`` is listed any more."""

        def probe():
            found = self.list_machines(id=[system_id])
            if not found:
                return True, None, "deleted"
            return False, None, _state_text(found[0])

        return self.poll(probe, timeout, "machine %s to be deleted" % (hostname or system_id))

    # -- API helpers -----------------------------------------------------------------------

    def version(self):
        """``GET /version/``: ``{"version": "3.6.1", "capabilities": [...], "subversion": ""}``."""
        return self.get("version/")

    def whoami(self):
        """The user the key belongs to (``username``, ``is_superuser``, ...)."""
        return self.get("users/", op="whoami")

    def username(self):
        """The API user's name (one ``op=whoami`` per client, asked when first needed)."""
        if self._username is None:
            self._username = (self.whoami() or {}).get("username")
        return self._username

    # VM hosts

    def list_vm_hosts(self):
        """Every VM host MAAS shows this user (MAAS offers no server-side filter on this list)."""
        return self.get("vm-hosts/") or []

    def get_vm_host(self, host_id):
        """One VM host by id."""
        return self.get("vm-hosts/%s/" % host_id)

    def vm_host_parameters(self, host_id):
        """A VM host's power parameters (admin only). They contain secrets: pick fields, never return it whole."""
        return self.get("vm-hosts/%s/" % host_id, op="parameters")

    def compose(self, host_id, data):
        """``op=compose`` on a VM host. ``data`` must carry ``hostname``: it is how a lost answer is verified.

        Returns ``{"system_id", "resource_uri"}``; when a retry finds that the first attempt
        created the machine, that machine's ``system_id`` and ``resource_uri`` are returned.
        """
        hostname = data.get("hostname")
        if not hostname:
            raise MaasConfigError("compose needs a hostname so that a lost answer can be verified without duplicates")

        retried = []

        def verify():
            retried.append(True)
            machine = self.find_machine(hostname)
            if machine is None:
                return None
            return {"system_id": machine["system_id"], "resource_uri": machine.get("resource_uri"), "verified": True}

        try:
            return self.post("vm-hosts/%s/" % host_id, data=data, op="compose", verify=verify,
                             timeout=max(self.timeout, COMPOSE_TIMEOUT))
        except MaasValidationError as exc:
            # A first attempt still running inside MAAS when ours timed out makes the re-sent one fail
            # on the hostname; the machine it created is the answer.
            if retried and "hostname" in exc.fields:
                found = verify()
                if found is not None:
                    self.log("compose of %s: MAAS reports the hostname taken by the earlier attempt's machine %s" % (
                        hostname, found["system_id"]))
                    return found
            raise

    # Machines

    def list_machines(self, **filters):
        """``GET /machines/`` with server-side filters (``hostname``, ``id``, ``zone``, ``pool``, ``tags``...)."""
        return self.get("machines/", params=filters) or []

    def list_machines_tagged(self, tags, **filters):
        """Machines carrying all of ``tags`` (one filtered request); none, not an error, while a tag does not exist.

        MAAS answers a filter on an unknown tag with 400 ``{"tags": ["No such tag(s): 'x'."]}``.
        """
        try:
            return self.list_machines(tags=list(tags), **filters)
        except MaasValidationError as exc:
            if "tags" in (exc.fields or {}):
                return []
            raise

    def find_machine(self, hostname):
        """The machine named ``hostname`` (short name) or None; one filtered request."""
        found = self.list_machines(hostname=[hostname])
        matches = [m for m in found if m.get("hostname") == hostname]
        if len(matches) > 1:
            raise MaasError("MAAS has %d machines named %r (%s); rename or delete the extra ones." % (
                len(matches), hostname, ", ".join(m["system_id"] for m in matches)))
        return matches[0] if matches else None

    def get_machine(self, system_id):
        """One machine by system_id."""
        return self.get("machines/%s/" % system_id)

    def get_machines(self, system_ids):
        """Several machines in one request (``?id=a&id=b``); ids MAAS does not know are simply absent."""
        if not system_ids:
            return []
        return self.list_machines(id=list(system_ids))

    def allocate(self, constraints, verify=None):
        """``POST /machines/?op=allocate``; ``verify`` finds a machine the first attempt allocated."""
        return self.post("machines/", data=constraints, op="allocate", verify=verify)

    def deploy(self, system_id, data):
        """``op=deploy``; a retry first checks whether the machine is already deploying."""

        def verify():
            machine = self.get_machine(system_id)
            return machine if machine.get("status_name") in (DEPLOYING, DEPLOYED) else None

        return self.post("machines/%s/" % system_id, data=data, op="deploy", verify=verify)

    def release(self, system_id, data=None):
        """``op=release``; MAAS answers a release of a Ready or Releasing machine with a no-op, so it is safe to repeat."""
        return self.post("machines/%s/" % system_id, data=data, op="release", idempotent=True)

    def update_machine(self, system_id, data):
        """``PUT /machines/{system_id}/`` (hostname, zone, pool, domain, ...)."""
        return self.put("machines/%s/" % system_id, data=data)

    def delete_machine(self, system_id):
        """Delete a machine (decomposes a VM); returns False when it was already gone."""
        try:
            self.delete("machines/%s/" % system_id)
        except MaasNotFound:
            return False
        return True

    # Interfaces

    def link_subnet(self, system_id, interface_id, data):
        """``op=link_subnet`` on an interface; a retry first checks whether the link already exists."""
        ip_address = data.get("ip_address")

        def verify():
            interface = self.get("nodes/%s/interfaces/%s/" % (system_id, interface_id))
            for link in interface.get("links", []):
                if ip_address and link.get("ip_address") == ip_address and link.get("mode") == str(data.get("mode")).lower():
                    return interface
            return None

        return self.post("nodes/%s/interfaces/%s/" % (system_id, interface_id), data=data, op="link_subnet",
                         verify=verify if ip_address else None)

    def unlink_subnet(self, system_id, interface_id, link_id):
        """``op=unlink_subnet``; a retry first checks whether the link is already gone."""

        def verify():
            interface = self.get("nodes/%s/interfaces/%s/" % (system_id, interface_id))
            if any(link.get("id") == link_id for link in interface.get("links", [])):
                return None
            return interface

        return self.post("nodes/%s/interfaces/%s/" % (system_id, interface_id), data={"id": link_id},
                         op="unlink_subnet", verify=verify)

    # Tags

    def get_tag(self, name):
        """A tag, or None when MAAS has none of that name."""
        try:
            return self.get("tags/%s/" % name)
        except MaasNotFound:
            return None

    def ensure_tag(self, name, comment=""):
        """Create tag ``name`` unless it exists; returns True when it was created.

        Tasks running in parallel (one per VM) race to create the same cluster tag: MAAS answers
        the losers 400 ``{"name": ["Tag with this Name already exists."]}``, which is success here.
        """
        if self.get_tag(name) is not None:
            return False
        try:
            self.post("tags/", data={"name": name, "comment": comment}, verify=lambda: self.get_tag(name))
        except MaasValidationError as exc:
            if "name" in (exc.fields or {}) and self.get_tag(name) is not None:
                self.log("tag %s was created meanwhile by another task" % name)
                return False
            raise
        return True

    def tag_machines(self, name, add=(), remove=()):
        """``op=update_nodes`` on tag ``name``; adding or removing twice is harmless, so retries are safe."""
        data = {"add": list(add), "remove": list(remove)}
        return self.post("tags/%s/" % name, data=data, op="update_nodes", idempotent=True)

    # Places and networks

    def list_zones(self):
        """All zones (a short list)."""
        return self.get("zones/") or []

    def list_resource_pools(self):
        """All resource pools (a short list)."""
        return self.get("resourcepools/") or []

    def list_domains(self):
        """All DNS domains (a short list)."""
        return self.get("domains/") or []

    def list_subnets(self):
        """All subnets."""
        return self.get("subnets/") or []

    def subnet_ip_addresses(self, subnet):
        """``op=ip_addresses`` of a subnet (id or MAAS specifier such as ``ip:<address>``): its allocated addresses,
        each with the user, the node summary and the DNS records that use it."""
        return self.get("subnets/%s/" % subnet, op="ip_addresses", params={"with_username": 1, "with_summary": 1}) or []

    def ip_addresses(self, ip=None, all_users=False):
        """``GET /ipaddresses/``: by default this user's reservations; ``all_users`` (admin) lists every allocated address."""
        params = {"ip": ip}
        if all_users:
            params["all"] = True
        return self.get("ipaddresses/", params=params) or []

    def release_ip(self, ip, force=False):
        """Release a reserved IP address; a retry first checks whether it is already released."""
        data = {"ip": ip}
        if force:
            data["force"] = True
        return self.post("ipaddresses/", data=data, op="release",
                         verify=lambda: True if not self.ip_addresses(ip=ip, all_users=force) else None)


# --------------------------------------------------------------------------------------------
# Helpers


def machine_reason(machine):
    """``: status message "...", error "..."`` from MAAS's own explanation of a machine's state."""
    parts = []
    if machine.get("status_message"):
        parts.append("status message %r" % machine["status_message"])
    if machine.get("error_description"):
        parts.append("error %r" % machine["error_description"])
    return (": " + ", ".join(parts)) if parts else ""


def _state_text(machine):
    text = str(machine.get("status_name"))
    if machine.get("status_message"):
        text += " (%s)" % machine["status_message"]
    return text


def _first_line(text):
    return (text or "").splitlines()[0] if text else ""


def _is_vm_host_path(path):
    path = path.lstrip("/")
    return path.startswith("vm-hosts/") or path.startswith("pods/") or path.startswith("vm-cluster")


def _never_connected(exc):
    """True when the request certainly never reached the server (refused, DNS failure, connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _NEVER_CONNECTED and isinstance(current, _NEVER_CONNECTED):
            return True
        reason = getattr(current, "reason", None)
        args = getattr(current, "args", ())
        current = reason if isinstance(reason, BaseException) else (
            args[0] if args and isinstance(args[0], BaseException) else None)
    return False


def _root_reason(exc):
    """The innermost readable reason of a requests/urllib3 error, without addresses of Python objects."""
    seen = set()
    current = exc
    text = str(exc)
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        reason = getattr(current, "reason", None)
        args = getattr(current, "args", ())
        current = reason if isinstance(reason, BaseException) else (
            args[0] if args and isinstance(args[0], BaseException) else None)
    text = text.replace("\n", " ")
    # urllib3 prefixes the connection object repr: "<urllib3.connection.HTTPConnection object at 0x..>: Failed to ..."
    if text.startswith("<") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return _short(text, 300)
