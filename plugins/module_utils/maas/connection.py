# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""From the auth options (doc fragment ``lxdcp.maas.auth``) to a client: shared by the modules and the lookups."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.transport import parse_api_key

# The auth options as an AnsibleModule argument spec (env fallbacks are added by module.py).
AUTH_OPTIONS = ("url", "api_key", "validate_certs", "ca_path", "timeout", "retries")


def token_secret(api_key):
    """The token secret of an API key: Ansible masks the whole key, the secret alone must be masked too."""
    return parse_api_key(api_key)[2]


def connect(options, logger=None, warn=None, client_class=MaasClient):
    """A client built from ``options`` (a mapping with the auth options); MaasConfigError on bad settings.

    ``warn`` receives the warning for an https URL with ``validate_certs: false``.
    """
    url = options["url"]
    if warn is not None and isinstance(url, str) and url.lower().startswith("https") and not options["validate_certs"]:
        warn("validate_certs is false: the TLS certificate of MAAS is not checked")
    return client_class(
        url=url,
        api_key=options["api_key"],
        validate_certs=options["validate_certs"],
        ca_path=options.get("ca_path"),
        timeout=options["timeout"],
        retries=options["retries"],
        logger=logger,
    )
