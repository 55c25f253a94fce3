# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception the collection's domain code raises.

Modules turn it into a failed result in one place (``module.MaasRun``: ``fail_json`` in the module, the failed
result of its action plugin on the controller); the lookup into ``AnsibleLookupError``. ``result`` holds the fields
a module returns with the failure (the machine as far as it is known, the actions taken, ...). The MAAS client's
errors (``maas.errors.MaasError``) are a kind of it.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

_BODY_LIMIT = 600
REDACTED = "<redacted>"


class LxdcpError(Exception):
    """A task cannot be carried out; ``message`` says why and what to do, ``result`` carries the module's fields."""

    def __init__(self, message, **result):
        super(LxdcpError, self).__init__(message)
        self.message = message
        self.result = result

    def __str__(self):
        return self.message


class RequestError(LxdcpError):
    """An error of an API client (MAAS, LXD): ``DETAILS`` name what it carries about the failed request.

    Each detail is an attribute (None when unknown); ``to_dict()`` is their JSON-safe view, which a
    module returns as ``error``.
    """

    DETAILS = ()

    def __init__(self, message, **details):
        unknown = sorted(set(details) - set(self.DETAILS))
        if unknown:
            raise TypeError("%s got unexpected detail(s) %s" % (type(self).__name__, ", ".join(unknown)))
        super(RequestError, self).__init__(message)
        for name in self.DETAILS:
            setattr(self, name, details.get(name))

    def to_dict(self):
        """JSON-safe description for module results."""
        described = {"type": type(self).__name__}
        described.update((name, getattr(self, name)) for name in self.DETAILS)
        return described


def sentence(text):
    """``text`` as a sentence that a message goes on after: one final period, never two.

    Texts from MAAS and from other errors often end with a period already ("Invalid API key.", a
    validation message, a whole error message); appending another made "..". A text ending with "!"
    or "?" keeps it.
    """
    text = (text or "").rstrip()
    if text.endswith(("!", "?")):
        return text
    return text.rstrip(".").rstrip() + "."


def short(text, limit=_BODY_LIMIT):
    """``text`` stripped and cut to ``limit`` characters (saying how long it was): for answers quoted in messages."""
    text = (text or "").strip()
    if len(text) > limit:
        return text[:limit] + "... (%d characters)" % len(text)
    return text


def first_line(text):
    """The first line of ``text`` ('' for none)."""
    return (text or "").splitlines()[0] if text else ""


def redact(text, secrets=()):
    """``text`` with every literal of ``secrets`` replaced by ``<redacted>``: for answers that a message quotes."""
    if not text:
        return text
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def redact_url(url):
    """``url`` without its user:password@, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" in parts.netloc:
        return urlunsplit((parts.scheme, "***@" + parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, parts.fragment))
    return url


def shown_path(value):
    """A file path as a message shows it; a value that is no path but PEM text (a key given inline) is not repeated."""
    text = str(value)
    if "\n" in text or "-----BEGIN" in text:
        return "(PEM text, not a file path)"
    return text
