# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A base for the collection's lookups: the MAAS client set up from the auth options as the modules set it up."""

from __future__ import annotations

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.plugins.plugin_utils.client import plugin_client


class MaasLookupBase(LookupBase):
    """``client()`` from the ``lxdcp.maas.auth`` options; ``fail()`` turns a domain error into a lookup error."""

    # Unit tests replace this to put a fake transport under the client.
    client_class = MaasClient

    def client(self):
        """The MAAS client (``connect`` of the modules); requests are logged with -vvvv."""
        try:
            return plugin_client(self, self._load_name.split(".")[-1], self.client_class)
        except LxdcpError as exc:
            raise self.fail(exc) from None

    def fail(self, error):
        """The lookup error for a domain error, prefixed with the lookup's name."""
        return AnsibleLookupError("%s: %s" % (self._load_name.split(".")[-1], error))
