# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the MAAS API client: one class per kind of answer, messages that say what was asked,
what MAAS said and what to do, and the redaction that keeps credentials out of them."""

from __future__ import annotations

import json
import re

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import REDACTED, RequestError, redact, redact_url, sentence, short
from ansible_collections.lxdcp.maas.plugins.module_utils.retries import GaveUp

# Credentials an answer of MAAS (or a proxy) can carry back. piston, MAAS's API layer, answers a wrong
# token secret with 401 "Authorization Error: 'Invalid signature. Expected signature base string:
# &<the real token secret>'", and a wrong token key with "Invalid access token: <token key>". What
# follows those two labels is redacted to the end of its line (a closing quote is kept), whatever it
# contains: spaces, quotes or "<...>" placeholders never leave a piece of it behind.
_SECRET_PATTERNS = (
    re.compile(r"((?:signature base string|access token):[ \t]*)[^\r\n]*?(?=['\"]?[ \t]*$)",
               re.IGNORECASE | re.MULTILINE),
    # The second also where the header is quoted in a JSON string (oauth_token=\"...\").
    re.compile(r"(oauth_(?:signature|token)\b\\?\"?\s*(?:=|:|%3D)\s*\\?\"?)&?[^\s'\",&\\]+", re.IGNORECASE),
)


# --------------------------------------------------------------------------------------------
# Errors


class MaasError(RequestError):
    """Base of every error the client raises.

    ``message`` is complete and safe to show: it says what was asked, what MAAS said and what to
    do, and never contains the API key. ``status``, ``method``, ``path``, ``op`` and ``body``
    describe the failed request when there was one.
    """

    DETAILS = ("status", "method", "path", "op", "body")


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


class MaasRetriesExhausted(GaveUp, MaasError):
    """The retry budget is spent; ``last_error`` is the last failure and ``attempts`` the count."""


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
    "/vm-hosts/ and /pods/ endpoints answer 410 Gone. Set lxd_via: direct (or auto, the default) to create the LXD "
    "VMs on the LXD hosts and register them in MAAS (docs/lxd-direct.md), or provision the control plane on machines "
    "MAAS manages directly (provisioning_mode: bare-metal)."
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
    token: ...", each to the end of its line) and any ``oauth_signature``/``oauth_token`` value,
    plus every literal in ``secrets`` (the client passes its token secret, also percent-encoded).
    The literals go first, so that a short secret never matches inside an earlier ``<redacted>``.
    """
    if not text:
        return text
    text = redact(text, secrets)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


def format_fields(fields):
    """Flatten MAAS's ``{"field": ["msg", ...]}`` validation dict into one line."""
    parts = []
    for name in sorted(fields):
        messages = fields[name]
        if not isinstance(messages, list):
            messages = [messages]
        label = "" if name == "__all__" else "%s: " % name
        parts.append(label + " ".join(str(m) for m in messages))
    return "; ".join(parts)


def is_vm_host_path(path):
    path = path.lstrip("/")
    return path.startswith("vm-hosts/") or path.startswith("pods/") or path.startswith("vm-cluster")


def error_from_answer(status, reason, text, method, path, op=None, location=""):
    """The MaasError for an error answer of MAAS; ``text`` and ``location`` must be redacted already."""
    what = describe_request(method, path, op)
    fields = None
    said = short(text) or "(empty answer)"
    if status == 400:
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            fields = decoded
            said = format_fields(decoded)
    if 300 <= status < 400:
        message = ("MAAS answered %s with a redirect (%d) to %s; set url to the MAAS root it points to "
                   "(redirects are not followed, they would drop the request body)." % (what, status, redact_url(location)))
        return MaasError(message, status=status, method=method, path=path, op=op, body=short(text))
    cls = _STATUS_ERRORS.get(status, MaasError)
    hint = _HINTS.get(status, "MAAS failed internally; its logs (regiond.log) have the details.")
    if status == 410:
        hint = GONE_HINT if is_vm_host_path(path) else "This MAAS no longer offers this endpoint."
    if status == 404 and "<html" in text.lower():
        said = "(a web page, not a MAAS API answer)"
        hint = "Check that url is the MAAS root, for example http://maas.example.com:5240/MAAS."
    if status == 401:
        said = said or "unauthorized"
    message = "MAAS refused %s: %s: %s %s" % (what, ("%d %s" % (status, reason or "")).strip(), sentence(said), hint)
    kwargs = dict(status=status, method=method, path=path, op=op, body=short(text))
    if cls is MaasValidationError:
        return cls(message, fields=fields, **kwargs)
    return cls(message, **kwargs)
