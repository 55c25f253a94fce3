# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LXD REST API (1.0) transport: one ``requests.Session`` with a client certificate, a verified
server, retries, and LXD's answers turned into values or typed errors.

LXD authenticates clients by TLS client certificate (``client_cert``/``client_key``, PEM files the
client reads; the key never appears anywhere else). The server is verified in one of two ways:

- ``server_cert``: the pinned certificate of LXD (``/var/lib/lxd/server.crt``, what ``lxc remote
  add`` stores after asking). LXD's certificates are self-signed, so this is the usual case: the
  certificate LXD presents must be exactly this one (SHA-256 fingerprint, checked in the handshake
  before a byte of the request is sent). Its host name is then not checked: the pin is the identity.
- ``ca_path``: a CA bundle that signed LXD's certificate (``core.https_address`` behind a certificate
  of a private CA); the chain and the host name are checked.

Neither: the system's CA store. ``validate_certs: false`` turns verification off and says so in the
log and through ``warn``. Retries and backoff are the collection's (``module_utils/retries.py``):
connection errors, 502/503/504; a POST is not re-sent blindly (``verify``).
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl

from urllib.parse import urlsplit, urlunsplit

try:
    import requests
    from requests.adapters import HTTPAdapter
    IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test's import sanity test
    requests = None
    HTTPAdapter = object
    IMPORT_ERROR = exc

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import redact_url, sentence, shown_path
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.errors import (
    LxdConfigError,
    LxdConnectionError,
    LxdError,
    LxdOutcomeUnknown,
    LxdRetriesExhausted,
    LxdTLSError,
    describe_request,
    error_from_answer,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.retries import Retryable, Retrying, parse_retry_after, root_reason

DEFAULT_PORT = 8443
USER_AGENT = "lxdcp.maas"
RETRIED_STATUSES = (502, 503, 504)


# --------------------------------------------------------------------------------------------
# Settings


def normalize_url(url):
    """``https://host:port`` of an LXD server; the port defaults to 8443, a trailing ``/1.0`` is dropped.

    LXD's remote API is HTTPS only: anything else raises LxdConfigError.
    """
    if not isinstance(url, str) or not url.strip():
        raise LxdConfigError("the LXD url is missing; give the address of LXD's HTTPS API, for example "
                             "https://lxd1.example.com:8443.")
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise LxdConfigError("the LXD url %r is not an https URL; LXD's remote API is HTTPS only (core.https_address), "
                             "for example https://lxd1.example.com:8443." % redact_url(url))
    if parts.username or parts.password or parts.query or parts.fragment:
        raise LxdConfigError("the LXD url %r must not carry credentials, a query or a fragment; LXD authenticates by "
                             "client certificate." % parts.hostname)
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise LxdConfigError("the LXD url %r has an invalid port" % redact_url(url))
    path = parts.path.rstrip("/")
    if path in ("/1.0", ""):
        path = ""
    else:
        raise LxdConfigError("the LXD url %r has a path (%s); give the server's address only, for example "
                             "https://lxd1.example.com:8443." % (redact_url(url), parts.path))
    host = "[%s]" % parts.hostname if ":" in parts.hostname else parts.hostname
    return urlunsplit(("https", "%s:%d" % (host, port), path, "", ""))


def certificate_fingerprint(path, what="server_cert"):
    """SHA-256 fingerprint (lower-case hex) of the first PEM certificate in the file ``path``."""
    try:
        with open(path, "r", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        raise LxdConfigError("%s %s cannot be read: %s" % (what, path, exc.strerror or exc))
    return pem_fingerprint(text, "%s %s" % (what, path))


def pem_fingerprint(text, what="the certificate"):
    """SHA-256 fingerprint (lower-case hex) of the first PEM certificate in ``text``."""
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    if begin not in text or end not in text:
        raise LxdConfigError("%s is not a PEM certificate (no BEGIN CERTIFICATE block); give the certificate "
                             "file itself, for example LXD's server.crt." % what)
    pem = text[text.index(begin):text.index(end) + len(end)] + "\n"
    try:
        der = ssl.PEM_cert_to_DER_cert(pem)
    except ValueError as exc:
        raise LxdConfigError("%s is not a valid PEM certificate: %s" % (what, exc))
    return hashlib.sha256(der).hexdigest()


def _require_file(path, option, hint):
    if not path:
        raise LxdConfigError("%s is missing; %s" % (option, hint))
    if not os.path.isfile(path):
        raise LxdConfigError("%s %s does not exist or is not a file; %s" % (option, shown_path(path), hint))


class PinnedCertificateAdapter(HTTPAdapter):
    """A requests adapter whose connections accept one server certificate: the pinned fingerprint.

    urllib3 compares the SHA-256 fingerprint of the certificate the server presents during the
    handshake (``assert_fingerprint``); chain and host name are not checked, the pin replaces them.
    """

    def __init__(self, fingerprint, **kwargs):
        self.fingerprint = fingerprint
        super(PinnedCertificateAdapter, self).__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):  # pylint: disable=arguments-differ
        kwargs["assert_fingerprint"] = self.fingerprint
        super(PinnedCertificateAdapter, self).init_poolmanager(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# The transport


class LxdTransport(Retrying):
    """Requests to one LXD server with retries; answers are LXD's envelopes (``type`` sync/async/error).

    ``logger`` is a callable taking one string (or None); ``warn`` one taking a warning (or None: the
    warning goes to the log).
    """

    config_error = LxdConfigError

    def __init__(self, url, client_cert, client_key, server_cert=None, ca_path=None, validate_certs=True, timeout=30,
                 retries=5, backoff_base=0.5, backoff_max=30, logger=None, warn=None, sleep=None, clock=None, rand=None,
                 session=None):
        if IMPORT_ERROR is not None:
            raise LxdConfigError("the Python library 'requests' is required: %s" % IMPORT_ERROR)
        self.url = normalize_url(url)
        self.setup_retries(timeout, retries, backoff_base, backoff_max, logger, sleep, clock, rand)
        pair_hint = "LXD authenticates clients by a TLS certificate and key (PEM files), for example ~/.config/lxc/client.crt."
        _require_file(client_cert, "client_cert", pair_hint)
        _require_file(client_key, "client_key", pair_hint)
        if server_cert and ca_path:
            raise LxdConfigError("give server_cert (LXD's own certificate, pinned) or ca_path (the CA that signed it), "
                                 "not both.")
        if ca_path and not os.path.exists(ca_path):
            raise LxdConfigError("ca_path %s does not exist; give the PEM file of the CA that signed LXD's certificate, "
                                 "or pin LXD's own certificate with server_cert." % ca_path)
        self.client_cert = client_cert
        self.validate_certs = bool(validate_certs)
        self.server_cert = server_cert
        self.ca_path = ca_path
        self.fingerprint = certificate_fingerprint(server_cert) if server_cert and self.validate_certs else None
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/json"
        self.session.cert = (client_cert, client_key)
        if self.fingerprint:
            self.session.mount(self.url + "/", PinnedCertificateAdapter(self.fingerprint))
        # Passed with every request: a session-level value would lose to REQUESTS_CA_BUNDLE. A pinned
        # certificate replaces chain and host name checks (the adapter checks the fingerprint).
        self._verify = False if (self.fingerprint or not self.validate_certs) else (ca_path or True)
        if not self.validate_certs:
            message = ("validate_certs is false: the TLS certificate of LXD at %s is not checked, anyone between this host "
                       "and LXD can read and change the requests; pin it with server_cert instead" % self.url)
            (warn or self.log)(message)

    def __repr__(self):
        return "%s(url=%r, pinned=%r, validate_certs=%r, timeout=%r, retries=%r)" % (
            type(self).__name__, self.url, bool(self.fingerprint), self.validate_certs, self.timeout, self.retries)

    # -- requests --------------------------------------------------------------------------

    def get(self, path, params=None, timeout=None):
        """GET ``path`` (``/1.0/...``) and return the ``metadata`` of LXD's answer."""
        return (self.request("GET", path, params=params, timeout=timeout) or {}).get("metadata")

    def request(self, method, path, params=None, body=None, idempotent=None, verify=None, timeout=None):
        """Send one API request with retries and return LXD's decoded envelope (``type``, ``metadata``, ``operation``).

        ``params`` is a list of ``(key, value)`` pairs (None values are dropped), ``body`` a JSON
        document, ``timeout`` the read timeout of this request (default: the client's).

        Retried: connection errors and timeouts, 502/503/504 (Retry-After honoured), up to ``retries``
        extra attempts. ``idempotent`` defaults to True for everything but POST. A POST is re-sent only
        when it certainly did not reach LXD, or after ``verify()`` returned None (the first attempt
        took no effect); a value from ``verify()`` is returned instead of an envelope. Otherwise
        ``LxdOutcomeUnknown`` is raised.
        """
        if idempotent is None:
            idempotent = method != "POST"
        query = _pairs(params)
        what = describe_request(method, path, query)
        url = self.url + path

        def send(attempt):
            response = self.attempt_request(attempt, what, method, url, timeout, params=query, json=body)
            status = response.status_code
            envelope = _envelope(response)
            if envelope is None:
                if status not in RETRIED_STATUSES:
                    raise self._not_lxd(response, method, what)
                envelope = {"type": "error", "error": response.text or ""}  # a proxy's page
            elif envelope.get("type") != "error" and status < 300:
                return envelope
            code = envelope.get("error_code") or status
            failure = error_from_answer(self.url, code, response.reason if code == status else "",
                                        envelope.get("error") or "", method, path, query, self.client_cert)
            if code in RETRIED_STATUSES:
                raise Retryable(failure, retry_after=parse_retry_after(response.headers.get("Retry-After")))
            raise failure

        def gave_up(failure, attempts, seconds):
            return LxdRetriesExhausted(
                "Gave up on %s at %s after %d attempt(s) in %.1f s: %s" % (
                    what, self.url, attempts, seconds, failure.message),
                last_error=failure, attempts=attempts, status=failure.status, method=method, path=path,
                lxd_error=failure.lxd_error, url=self.url)

        def outcome_unknown(failure):
            return LxdOutcomeUnknown(
                "%s failed with an unknown outcome (%s) and cannot be verified, so it is not sent again. Check LXD at "
                "%s for its effect before re-running." % (what, failure.message, self.url),
                status=failure.status, method=method, path=path, lxd_error=failure.lxd_error, url=self.url)

        return self.with_retries(send, what, idempotent=idempotent, verify=verify, gave_up=gave_up,
                                 outcome_unknown=outcome_unknown)

    # -- answers and errors ----------------------------------------------------------------

    def _not_lxd(self, response, method, what):
        return LxdError(
            "%s at %s did not answer like LXD (HTTP %d, %s): check that the url is LXD's HTTPS API "
            "(core.https_address), not another service." % (
                what, self.url, response.status_code, response.headers.get("Content-Type") or "no content type"),
            status=response.status_code, method=method, url=self.url)

    def _connection_error(self, exc, what, reason):
        return LxdConnectionError(
            "Cannot reach LXD at %s for %s: %s Check the url, that LXD listens there (`lxc config get "
            "core.https_address` on the LXD host) and that this host can reach it." % (self.url, what, sentence(reason)),
            url=self.url)

    def _tls_error(self, exc, what):
        reason = root_reason(exc)
        if "fingerprints did not match" in reason.lower():
            found = re.search(r'got "?([0-9a-fA-F:]+)', reason)
            presented = found.group(1).lower() if found else "another certificate"
            return LxdTLSError(
                "LXD at %s presented a certificate that is not the pinned one (server_cert %s, sha256 %s); it presented "
                "sha256 %s. Nothing was sent. If LXD's certificate was renewed, check the new one on the LXD host "
                "(server.crt in LXD's directory) and pin it; otherwise something else answers at this address." % (
                    self.url, self.server_cert, self.fingerprint, presented),
                url=self.url)
        if self.server_cert or self.ca_path:
            hint = ("Check that server_cert is LXD's current certificate" if self.server_cert else
                    "Check that ca_path holds the CA that signed LXD's certificate and that the url's host name is in it")
        else:
            hint = ("LXD's certificate is usually self-signed: pin it with server_cert (server.crt in LXD's directory, "
                    "or what `lxc remote add` stored), or give ca_path for a private CA")
        return LxdTLSError(
            "TLS connection to LXD at %s failed for %s: %s %s; a client certificate and key that do not belong together "
            "fail here too (client_cert %s)." % (self.url, what, sentence(reason), hint, self.client_cert),
            url=self.url)


def _envelope(response):
    """LXD's answer document (a dict with ``type``), or None for anything else (a proxy's page, another service)."""
    try:
        envelope = response.json()
    except ValueError:
        return None
    return envelope if isinstance(envelope, dict) and "type" in envelope else None


def _pairs(params):
    """Query pairs ``(key, text)`` from ``(key, value)`` pairs; None values are dropped."""
    return [(key, str(value)) for key, value in params or () if value is not None]
