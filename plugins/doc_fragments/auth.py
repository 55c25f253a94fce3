# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lxdcp.maas.auth documentation fragment: how modules reach and authenticate to MAAS."""

from __future__ import annotations


class ModuleDocFragment(object):
    """Options shared by every lxdcp.maas module (the argument spec is module_utils/module.py AUTH_ARGUMENT_SPEC)."""

    DOCUMENTATION = r"""
options:
  url:
    description:
      - Root URL of the MAAS region API, for example C(http://maas.example.com:5240/MAAS).
      - A URL that already ends in C(/api/2.0/) is accepted too.
      - If not set, the value of the E(MAAS_URL) environment variable is used.
    type: str
    required: true
  api_key:
    description:
      - MAAS API key of the user the module acts as, C(consumer_key:token_key:token_secret).
      - Create one in the MAAS UI (user preferences, API keys) or with C(maas apikey --username <user>).
      - Composing VMs, deploying machines and editing interfaces need a MAAS administrator's key.
      - Requests are signed with OAuth 1.0 PLAINTEXT, as MAAS expects. The key is never shown in results, logs or errors.
      - If not set, the value of the E(MAAS_API_KEY) environment variable is used.
    type: str
    required: true
  validate_certs:
    description:
      - Verify the TLS certificate of an C(https) MAAS URL.
      - Leave it on; use O(ca_path) for a private CA.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificate(s) that signed the certificate of MAAS.
      - Only used with an C(https) URL and O(validate_certs=true).
    type: path
  timeout:
    description:
      - Seconds to wait for MAAS to answer one request.
      - Composing a VM waits at least 150 s, since MAAS composes synchronously and gives its hypervisor driver 120 s.
    type: int
    default: 30
  retries:
    description:
      - How many times a request is retried when MAAS is briefly unavailable (503, 502, 504, a 409 with
        C(Retry-After), a connection error or a timeout).
      - Retries wait with exponential backoff and jitter (0.5 s doubling up to 30 s) and honour C(Retry-After).
      - Writes that are not idempotent (compose, allocate, deploy) are only re-sent after checking that the first
        attempt did not take effect, so a lost answer never creates a duplicate.
      - V(0) disables retries.
    type: int
    default: 5
requirements:
  - requests
  - requests-oauthlib
notes:
  - With C(-vvv) (verbosity 3 or more) a module's result also has C(maas_log), a list of the requests of the run (with
    attempt numbers and retry delays) and its decisions, without secrets; a lookup prints the same lines with C(-vvvv).
"""

    # Plugins (the lookups, the inventory) read options through Ansible's config, which reads the environment only
    # where the documentation says so: `lxdcp.maas.auth.plugin` adds to `lxdcp.maas.auth` the variables modules
    # read themselves.
    PLUGIN = r"""
options:
  url:
    env:
      - name: MAAS_URL
  api_key:
    env:
      - name: MAAS_API_KEY
"""
