# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A base for the collection's lookups: the MAAS client set up from the auth options as the modules set it up."""

from __future__ import annotations

from ansible import constants as C
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.plugins.plugin_utils.client import plugin_client

COLLECTION = "lxdcp.maas"

display = Display()


class MaasLookupBase(LookupBase):
    """``client()`` from the ``lxdcp.maas.auth`` options; ``fail()`` turns a domain error into a lookup error."""

    # Unit tests replace this to put a fake transport under the client.
    client_class = MaasClient

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super(MaasLookupBase, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        show_option_deprecations(self)

    def client(self):
        """The MAAS client (``connect`` of the modules); requests are logged with -vvvv."""
        try:
            return plugin_client(self, self._load_name.split(".")[-1], self.client_class)
        except LxdcpError as exc:
            raise self.fail(exc) from None

    def fail(self, error):
        """The lookup error for a domain error, prefixed with the lookup's name."""
        return AnsibleLookupError("%s: %s" % (self._load_name.split(".")[-1], error))


def show_option_deprecations(plugin):
    """Report the deprecation of each of ``plugin``'s options given by an old name that is still pending after
    ``set_options``.

    ansible-core 2.18 and later report these in ``set_options`` (and take them off ``C.config.DEPRECATED``); 2.17 leaves
    them there and reports that list only when the CLI starts, so a lookup, which reads its options in a worker, never
    had its deprecated options reported. Pending entries that are not this plugin's options are left as they are.
    """
    options = C.config.get_configuration_definitions(plugin.plugin_type, plugin._load_name)  # pylint: disable=protected-access
    pending = C.config.DEPRECATED
    for entry in [entry for entry in pending if entry[1] and entry[1] == (options.get(entry[0]) or {}).get("deprecated")]:
        pending.remove(entry)
        name, info = entry
        alternatives = " Alternatives: %s." % info["alternatives"] if info.get("alternatives") else ""
        where = "the %s %s" % (plugin.plugin_type, plugin.ansible_name or plugin._load_name)  # pylint: disable=protected-access
        display.deprecated("%s option of %s. Reason: %s%s" % (name, where, info.get("why"), alternatives),
                           version=info.get("version"), date=info.get("date"), collection_name=COLLECTION)
