# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every lxdcp.maas module shares: the auth options, the client built from them, and results.

A module does::

    module = MaasModule(argument_spec=dict(name=dict(type="str")), supports_check_mode=True)
    try:
        client = module.client()
        ...
    except MaasError as exc:
        module.fail_from(exc)
    module.exit_json(changed=False, thing=thing)

``MaasModule`` wraps ``AnsibleModule``: the auth options of the ``lxdcp.maas.auth`` doc fragment
are merged into the argument spec, missing Python libraries and bad settings fail with a clear
message before any request, and with ``-vvv`` every result carries ``maas_log``, the requests
(with attempt numbers, retry delays) and decisions of the run. No secret is ever logged.
"""

from __future__ import annotations

import copy
import os
import time

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.lxdcp.maas.plugins.module_utils.client import (
    HAS_REQUESTS,
    HAS_REQUESTS_OAUTHLIB,
    REQUESTS_IMPORT_ERROR,
    REQUESTS_OAUTHLIB_IMPORT_ERROR,
    MaasClient,
    MaasConfigError,
    MaasError,
    parse_api_key,
)

AUTH_ARGUMENT_SPEC = dict(
    url=dict(type="str", required=True, fallback=(env_fallback, ["MAAS_URL"])),
    api_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["MAAS_API_KEY"])),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="int", default=30),
    retries=dict(type="int", default=5),
)

# Ownership tags (docs/design.md, "Modules"): machines created by lxdcp.maas carry MANAGED_TAG,
# and CLUSTER_TAG_PREFIX + <cluster> when a cluster name is given.
MANAGED_TAG = "lxdcp-managed"
CLUSTER_TAG_PREFIX = "lxdcp-cluster-"

LOG_VERBOSITY = 3


def maas_argument_spec(**options):
    """The auth options plus the module's own ``options``."""
    spec = copy.deepcopy(AUTH_ARGUMENT_SPEC)
    spec.update(options)
    return spec


def cluster_tag(cluster):
    """The ownership tag of ``cluster``."""
    return CLUSTER_TAG_PREFIX + cluster


class MaasLog(object):
    """Collects troubleshooting lines, each prefixed with the seconds since the module started."""

    def __init__(self, clock=None):
        self._clock = clock or time.monotonic
        self._start = self._clock()
        self.lines = []

    def __call__(self, message):
        self.lines.append("+%.3fs %s" % (self._clock() - self._start, message))

    def __len__(self):
        return len(self.lines)


class MaasModule(object):
    """``AnsibleModule`` with the MAAS auth options, a lazily built client and ``maas_log`` in results."""

    # Unit tests replace this to put a fake transport under the client.
    client_class = MaasClient

    def __init__(self, argument_spec=None, **kwargs):
        self.module = AnsibleModule(argument_spec=maas_argument_spec(**(argument_spec or {})), **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.log = MaasLog()
        self._client = None

    @property
    def verbose(self):
        """Whether the play runs with -vvv or more (then results carry ``maas_log``)."""
        return getattr(self.module, "_verbosity", 0) >= LOG_VERBOSITY

    @property
    def diff_mode(self):
        """Whether the play runs with --diff."""
        return bool(getattr(self.module, "_diff", False))

    def client(self, **overrides):
        """The client for this run, built once from the auth options; fails the module on bad settings."""
        if self._client is not None:
            return self._client
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        if not HAS_REQUESTS_OAUTHLIB:
            self.module.fail_json(msg=missing_required_lib("requests-oauthlib"), exception=str(REQUESTS_OAUTHLIB_IMPORT_ERROR))
        params = self.params
        try:
            # The token secret alone would escape Ansible's masking of the whole api_key value.
            secret = parse_api_key(params["api_key"])[2]
            self.module.no_log_values.add(secret)
            if params.get("ca_path") and not os.path.exists(params["ca_path"]):
                raise MaasConfigError("ca_path %s does not exist; give the PEM file of the CA that signed MAAS's "
                                      "certificate" % params["ca_path"])
            settings = dict(
                url=params["url"],
                api_key=params["api_key"],
                validate_certs=params["validate_certs"],
                ca_path=params.get("ca_path"),
                timeout=params["timeout"],
                retries=params["retries"],
                logger=self.log,
            )
            settings.update(overrides)
            if params["url"].lower().startswith("https") and not params["validate_certs"]:
                self.warn("validate_certs is false: the TLS certificate of MAAS is not checked")
            self._client = self.client_class(**settings)
        except MaasError as exc:
            self.fail_from(exc)
        return self._client

    def warn(self, message):
        """An Ansible warning, also logged."""
        self.log("warning: %s" % message)
        self.module.warn(message)

    def _with_log(self, result):
        if self.verbose:
            result["maas_log"] = list(self.log.lines)
        return result

    def exit_json(self, **result):
        """Finish successfully (adds ``maas_log`` with -vvv)."""
        self.module.exit_json(**self._with_log(result))

    def fail_json(self, msg, **result):
        """Fail with ``msg`` (adds ``maas_log`` with -vvv)."""
        self.module.fail_json(msg=msg, **self._with_log(result))

    def fail_from(self, error, **result):
        """Fail with a MaasError: its message, and ``error`` (status, request) for programs."""
        if isinstance(error, MaasError):
            result.setdefault("error", error.to_dict())
        self.fail_json(str(error), **result)
