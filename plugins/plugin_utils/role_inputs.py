# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of the provision, deploy and release roles' inputs, written once: the settings the three share, and the
checks of each role's own values that its argument spec cannot make (one value against another, a port's range).

Used by the action ``lxdcp.maas.validate_role_inputs`` (the roles' first task on each machine: the role's argument
spec, then these) and by the filter ``lxdcp.maas.setting_problems`` (the shared checks alone). Every check looks at a value as the
role's variable renders it (before the argument spec converts it), as a string where it is a name: a hostname given in
YAML as a number (``lxdcp_hostname: 101``) passes. The MAAS API key is only checked for being set; it is never part of
a message.
"""

from __future__ import annotations

from collections.abc import Mapping
import json
import os
import re

import yaml

from ansible_collections.lxdcp.maas.plugins.module_utils.machines import VM_PROVIDER_ID_SCHEMES
from ansible_collections.lxdcp.maas.plugins.module_utils.names import valid_hostname, valid_tag

MODES = ("lxd", "bare-metal")
SETTINGS = ("cluster", "hostname", "mode", "vm_provider_id_scheme", "maas_url", "maas_api_key")
# The collection-wide setting the shared checks read besides each role's own variables.
PROVIDER_ID_SCHEME_VAR = "lxdcp_vm_provider_id_scheme"

_ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")
_DIGITS_RE = re.compile(r"^[0-9]+$")
_ENDPOINT_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$")
_CIDR_RE = re.compile(r"^[0-9a-fA-F.:]+/[0-9]+$")


def _text(value):
    """A setting as the roles check it: a string (a number given in YAML, lxdcp_hostname: 101, is its digits)."""
    return "" if value is None else str(value)


def _size(value):
    """The length of a value as a role's check counts it (nothing set: 0)."""
    if value is None:
        return 0
    return len(value) if isinstance(value, (str, bytes, list, tuple, Mapping)) else len(str(value))


def shared_problems(settings, role, own=(), cluster_note=""):
    """What is wrong with the settings the three roles share, as messages.

    ``settings`` has the role's values of ``SETTINGS``; ``role`` is its variable prefix (provision, deploy, release),
    named in the messages; ``own`` are the messages of the role's own failed checks, reported after the cluster, the
    machine and the mode and before the MAAS connection; ``cluster_note`` says what the cluster name is for.
    """
    cluster = _text(settings["cluster"])
    hostname = _text(settings["hostname"])
    mode = settings["mode"]
    scheme = settings["vm_provider_id_scheme"]
    problems = []
    if not cluster:
        problems.append("set %s_cluster (or lxdcp_cluster) to the name of the cluster%s"
                        % (role, "; " + cluster_note if cluster_note else ""))
    elif not valid_tag(cluster):
        problems.append("cluster name %s may only use letters, digits, _ and -" % json.dumps(cluster))
    if not valid_hostname(hostname):
        problems.append("hostname %s is not a MAAS hostname (letters, digits and -, at most 63 characters, no dots); "
                        "set lxdcp_hostname" % json.dumps(hostname))
    if mode not in MODES:
        problems.append("provisioning mode %s must be lxd or bare-metal" % json.dumps(mode))
    if scheme not in VM_PROVIDER_ID_SCHEMES:
        problems.append("lxdcp_vm_provider_id_scheme %s must be maas-lxd (LXD VMs' provider IDs "
                        "maas-lxd:///<zone>/<system_id>) or maas (maas:///<zone>/<system_id>, as "
                        "cluster-api-provider-maas writes them)" % json.dumps(scheme))
    problems.extend(own)
    if not _text(settings["maas_url"]):
        problems.append("set %s_maas_url (or lxdcp_maas_url, or the MAAS_URL environment variable)" % role)
    if not _text(settings["maas_api_key"]):
        problems.append("set %s_maas_api_key (or lxdcp_maas_api_key, or the MAAS_API_KEY environment variable)" % role)
    return problems


def _provision_problems(values):
    """The provision role's own checks: the static-IP settings belong to a static IP, and only LXD VMs take one."""
    ip = values.get("provision_ip")
    problems = []
    if _size(values.get("provision_subnet")) and not _size(ip):
        problems.append("provision_subnet is only used with provision_ip (lxdcp_ip)")
    if (_size(values.get("provision_gateway")) or _size(values.get("provision_dns_servers"))) and not _size(ip):
        problems.append("provision_gateway and provision_dns_servers (lxdcp_gateway, lxdcp_dns_servers) are only used "
                        "with provision_ip (lxdcp_ip): MAAS configures them on the static address; a machine without "
                        "one gets its subnet's by DHCP")
    if _size(ip) and values.get("provision_mode") == "bare-metal":
        problems.append("static IP %s (provision_ip or lxdcp_ip) only applies to LXD VMs: lxdcp.maas.maas_lxd_vm has no "
                        "static-IP support for bare-metal machines, which get their address from MAAS when they are "
                        "deployed; remove lxdcp_ip from this host or set lxdcp_provisioning_mode to lxd" % json.dumps(ip))
    return problems


def _deploy_problems(values):
    """The deploy role's own checks: the API server's port, a custom endpoint, the endpoint's DNS name, the subnets."""
    port = values.get("deploy_api_port")
    endpoint = _text(values.get("deploy_api_endpoint"))
    dns_name = values.get("deploy_api_dns_name")
    subnets = values.get("deploy_preferred_subnets") or []
    problems = []
    if not (_DIGITS_RE.match(_text(port)) and 1 <= int(_text(port)) <= 65535):
        problems.append("API server port %s must be a number from 1 to 65535" % json.dumps(port))
    if endpoint and not _ENDPOINT_RE.match(endpoint):
        problems.append("custom API endpoint %s must be a host name or an IP address, without scheme or port (the port "
                        "is deploy_api_port)" % json.dumps(endpoint))
    if not endpoint and _size(values.get("deploy_cluster")) and not valid_hostname(_text(dns_name)):
        problems.append("DNS name %s of the API endpoint must be one DNS label (letters, digits and -)"
                        % json.dumps(dns_name))
    if isinstance(subnets, (str, Mapping)) or not all(_CIDR_RE.match(_text(subnet)) for subnet in subnets):
        problems.append("deploy_preferred_subnets must be CIDRs, got %s" % json.dumps(subnets))
    return problems


# Each role: its own checks, and what its cluster name is for (added to the message when it is missing).
ROLES = {
    "provision": (_provision_problems, ""),
    "deploy": (_deploy_problems, ""),
    "release": (lambda values: [], "only its machines are removed"),
}


def role_problems(role, values):
    """What is wrong with a role's inputs, as messages: ``values`` are its variables as they render (``<role>_*`` and
    ``lxdcp_vm_provider_id_scheme``); the shared checks with the role's own among them, in one list."""
    own_checks, cluster_note = ROLES[role]
    settings = {name: values.get("%s_%s" % (role, name)) for name in SETTINGS}
    settings["vm_provider_id_scheme"] = values.get(PROVIDER_ID_SCHEME_VAR)
    return shared_problems(settings, role, own_checks(values), cluster_note=cluster_note)


def role_path(role):
    """The directory of the collection's role ``role``."""
    return os.path.join(_ROLES_DIR, role)


def argument_spec(role, entry_point="main"):
    """The options of a role's entry point, from the role's ``meta/argument_specs.yml`` (None when it has none).

    Read in the worker of each machine's task (about 3 ms with libyaml): the main process does not read it for a role
    imported with ``rolespec_validate: false``, and a worker's reads are not kept for the next task.
    """
    with open(os.path.join(role_path(role), "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        specs = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # nosec: a safe loader
    entry = (specs.get("argument_specs") or {}).get(entry_point)
    return None if entry is None else entry.get("options") or {}
