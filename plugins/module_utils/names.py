# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names MAAS accepts, checked in one place for modules, the lookup and the roles (through the test plugins).

- a DNS name: dot-separated labels of letters, digits and ``-`` (MAAS's ``LABEL``,
  ``maasserver/models/domain.py``, capped at the 63 characters DNS allows);
- a machine's host name: one such label (the domain is separate);
- a tag: letters, digits, ``_`` and ``-`` (``maasserver/forms/tag.py``); a cluster name becomes
  the tag ``lxdcp-cluster-<cluster>``, so it follows the same rule.

The ``*_error`` functions return the message for a bad name, or None for a good one.
"""

from __future__ import annotations

import re

from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import cluster_tag

_LABEL_RE = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?")
_TAG_RE = re.compile(r"[a-zA-Z0-9_-]+")


def valid_dns_name(name):
    """Whether ``name`` is a host name or FQDN MAAS accepts (labels of letters, digits and '-')."""
    if not isinstance(name, str) or not name or len(name) > 255:
        return False
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    return all(_LABEL_RE.fullmatch(label) for label in labels)


def dns_name_error(name, what="hostname"):
    """The message for an invalid DNS name, or None."""
    if valid_dns_name(name):
        return None
    return dns_name_message(name, what)


def dns_name_message(name, what="hostname"):
    """The message that ``name`` is not a valid DNS name, for callers whose rule is stricter than :func:`valid_dns_name`."""
    return ("%s %r is not a valid DNS name: each dot-separated label must be 1-63 letters, digits or '-', "
            "not starting or ending with '-'" % (what, name))


def valid_hostname(name):
    """Whether ``name`` is a machine host name MAAS accepts: one DNS label (no domain)."""
    return isinstance(name, str) and bool(_LABEL_RE.fullmatch(name))


def hostname_error(name, what="hostname", domain_hint="without the DNS domain"):
    """The message for an invalid machine host name, or None; ``domain_hint`` tells a name with dots what to do."""
    if valid_hostname(name):
        return None
    hint = " (a short name, %s)" % domain_hint if isinstance(name, str) and "." in name else ""
    return ("%s %r is not a valid MAAS hostname: letters, digits and hyphens, 1 to 63 characters, "
            "not starting or ending with a hyphen%s" % (what, name, hint))


def split_hostname(name):
    """``("cp-1", "maas")`` for ``cp-1.maas``; ``("cp-1", None)`` for ``cp-1``."""
    name = name.rstrip(".")
    if "." in name:
        host, domain = name.split(".", 1)
        return host, domain
    return name, None


def valid_tag(name):
    """Whether ``name`` is a MAAS tag name."""
    return isinstance(name, str) and bool(_TAG_RE.fullmatch(name))


def tag_error(name, what="tag"):
    """The message for an invalid tag name, or None."""
    if valid_tag(name):
        return None
    return "%s %r is not a valid MAAS tag name (letters, digits, '_' and '-')" % (what, name)


def cluster_error(cluster):
    """The message for an invalid cluster name, or None."""
    if valid_tag(cluster):
        return None
    return ("cluster %r may only contain letters, digits, '_' and '-' (it becomes the MAAS tag %s)"
            % (cluster, cluster_tag(cluster or "")))
