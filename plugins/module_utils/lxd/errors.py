# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the LXD API client: one class per kind of failure, messages that say what was asked,
what LXD said and what to do.

LXD answers errors with ``{"type": "error", "error_code": 404, "error": "Instance not found"}``, and
an asynchronous request that fails later with an operation whose ``status_code`` is 400 and whose
``err`` says why. Both become the same classes here: a missing project is an ``LxdNotFound``
whether LXD refused the request or failed its operation. No message carries key material: the
client's key never leaves the TLS layer, and certificates are named by path and fingerprint.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import RequestError, sentence, short
from ansible_collections.lxdcp.maas.plugins.module_utils.retries import GaveUp


class LxdError(RequestError):
    """Base of every error of the LXD client.

    ``message`` says what was asked, what LXD said and what to do. ``status`` is LXD's error code
    (or the HTTP status), ``lxd_error`` LXD's own text, ``operation`` the id of a failed
    asynchronous operation.
    """

    DETAILS = ("status", "method", "path", "lxd_error", "operation", "url")


class LxdConfigError(LxdError):
    """Bad client settings (URL, certificate paths), detected before any request."""


class LxdConnectionError(LxdError):
    """LXD cannot be reached (refused, DNS, timeout)."""


class LxdTLSError(LxdError):
    """The TLS handshake failed: LXD's certificate is not the pinned one or not verified, or the client pair is bad."""


class LxdUntrusted(LxdError):
    """LXD does not trust the client certificate (403, or ``auth: untrusted``)."""


class LxdNotFound(LxdError):
    """404: the instance, project, storage pool, network, profile or operation does not exist."""


class LxdConflict(LxdError):
    """The object exists already (409, or an operation failing with "already exists").

    ``instance`` is the existing instance when the client read it (create_instance does), and
    ``foreign`` tells whether it lacks lxdcp.maas's ownership marks.
    """

    def __init__(self, message, instance=None, foreign=None, **kwargs):
        super(LxdConflict, self).__init__(message, **kwargs)
        self.instance = instance
        self.foreign = foreign


class LxdBadRequest(LxdError):
    """400: LXD rejected the request (an invalid definition, a state that does not allow it)."""


class LxdOperationFailed(LxdError):
    """An asynchronous operation ended in failure or was cancelled; ``lxd_error`` is its ``err``."""


class LxdUnsupported(LxdError):
    """This LXD lacks what is asked: an API extension, or virtual machines on this host."""


class LxdUnavailable(LxdError):
    """502/503/504: LXD (or a proxy in front of it) could not serve the request."""


class LxdRetriesExhausted(GaveUp, LxdError):
    """Every attempt failed (``retries.GaveUp``: ``last_error``, ``attempts``)."""


class LxdOutcomeUnknown(LxdError):
    """A POST whose effect is unknown (its answer was lost) and that no lookup can check, so it was not sent again."""


class LxdWaitTimeout(LxdError):
    """An operation did not finish before the deadline; it may still finish. ``state`` is its last status."""

    def __init__(self, message, state=None, **kwargs):
        super(LxdWaitTimeout, self).__init__(message, **kwargs)
        self.state = state


_STATUS_ERRORS = {
    400: LxdBadRequest,
    403: LxdUntrusted,
    404: LxdNotFound,
    409: LxdConflict,
    502: LxdUnavailable,
    503: LxdUnavailable,
    504: LxdUnavailable,
}

# What to do, by what LXD said (lower-case fragments of its texts, first match wins). LXD answers some
# of these with 500 ("Requested profile ... doesn't exist", "Storage pool not found" on .../resources) or
# in a failed operation, so the text decides, not the status alone.
_VM_HINT = ("This LXD host cannot run virtual machines (`lxc info` lists no qemu driver): load the kvm and vhost_vsock "
            "kernel modules and install qemu, then restart LXD.")
_TEXT_RULES = (
    (("project not found",), LxdNotFound,
     "The LXD project does not exist: create it (`lxc project create <name>`) or name one that `lxc project list` shows."),
    (("storage pool not found",), LxdNotFound,
     "The storage pool does not exist on this LXD: create it (`lxc storage create <name> <driver>`) or name one that "
     "`lxc storage list` shows."),
    (("network not found",), LxdNotFound,
     "The network (bridge) does not exist on this LXD host: create the bridge or name one that `lxc network list` shows."),
    (("profile", "doesn't exist"), LxdNotFound,
     "A profile named in the definition does not exist in this project: create it (`lxc profile create <name>`) or leave "
     "it out."),
    (("profile not found",), LxdNotFound,
     "The profile does not exist in this project: create it (`lxc profile create <name>`) or leave it out."),
    (("already exists",), LxdConflict,
     "An object of that name exists already: choose another name, or remove the existing one if it is no longer used."),
    (("vhost_vsock",), LxdUnsupported, _VM_HINT),
    (("is not supported on this server",), LxdUnsupported, _VM_HINT),
    (("not authorized",), LxdUntrusted, None),
    (("instance not found",), LxdNotFound,
     "The instance does not exist in this project (deleted, misspelled, or in another project)."),
    (("operation not found",), LxdNotFound,
     "LXD no longer knows the operation (LXD forgets finished operations after a few seconds, and all of them when it "
     "restarts): check the object it acted on."),
)

_STATUS_HINTS = {
    400: "LXD rejected the request; its message names the offending value.",
    404: "The object does not exist on this LXD (deleted, misspelled, or in another project).",
    409: "An object of that name exists already.",
    502: "A proxy in front of LXD could not reach it; retry later.",
    503: "LXD could not serve the request; retry later.",
    504: "LXD or a proxy timed out; the request may still complete, check LXD before retrying.",
}


def untrusted_hint(client_cert):
    """What to do when LXD does not trust the client certificate ``client_cert`` (a path)."""
    return ("LXD does not trust the client certificate %s: add it to LXD's trust store on the LXD host "
            "(`lxc config trust add %s`, or `lxc config trust add` and a token), then retry." % (
                client_cert or "(none configured)", client_cert or "<certificate>"))


def describe_request(method, path, params=None):
    """``POST /1.0/instances?project=p``: a request as it appears in messages and logs."""
    text = "%s %s" % (method, path)
    if params:
        text += "?" + "&".join("%s=%s" % (key, value) for key, value in params)
    return text


def classify(status, text, client_cert=None):
    """``(class, hint)`` for an LXD failure with ``status`` (error code, or None for an operation) and LXD's ``text``."""
    lowered = (text or "").lower()
    cls = hint = None
    for fragments, rule_cls, rule_hint in _TEXT_RULES:
        if all(fragment in lowered for fragment in fragments):
            cls, hint = rule_cls, rule_hint
            break
    else:
        cls = _STATUS_ERRORS.get(status, LxdError if status else LxdOperationFailed)
        hint = _STATUS_HINTS.get(status)
    if cls is LxdUntrusted:
        hint = untrusted_hint(client_cert)
    return cls, hint or "LXD's log (`lxc info --show-log` or lxd.log on the LXD host) has the details."


def error_from_answer(url, status, reason, text, method, path, params=None, client_cert=None):
    """The LxdError for an error answer of LXD at ``url``: ``status`` is LXD's error code (or the HTTP status)."""
    what = describe_request(method, path, params)
    said = short(text) or "(empty answer)"
    cls, hint = classify(status, text, client_cert)
    message = "LXD at %s refused %s: %s: %s %s" % (url, what, ("%s %s" % (status, reason or "")).strip(), sentence(said),
                                                   hint)
    return cls(message, status=status, method=method, path=path, lxd_error=short(text), url=url)


def error_from_operation(url, operation, what):
    """The LxdError for an operation that ended in failure (``status_code`` 400) or was cancelled (401)."""
    err = short(operation.get("err") or operation.get("status") or "no reason given")
    op_id = operation.get("id")
    if operation.get("status_code") == 401:
        message = "LXD at %s cancelled %s (operation %s): %s" % (url, what, op_id, sentence(err))
        return LxdOperationFailed(message, status=401, lxd_error=err, operation=op_id, url=url)
    cls, hint = classify(None, err)
    message = "LXD at %s failed %s (operation %s): %s %s" % (url, what, op_id, sentence(err), hint)
    return cls(message, status=operation.get("status_code"), lxd_error=err, operation=op_id, url=url)
