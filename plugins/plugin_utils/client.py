# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MAAS client of a controller-side plugin (lookup, inventory) from its ``lxdcp.maas.auth`` options, as modules build it."""

from __future__ import annotations

from ansible.utils.display import Display

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.connection import AUTH_OPTIONS, connect

display = Display()


def plugin_client(plugin, name, client_class):
    """``connect`` of the modules with ``plugin``'s auth options; requests are logged with -vvvv, prefixed with ``name``.

    Raises the client's ``MaasConfigError`` (an ``LxdcpError``) on bad settings; the caller turns it into its error.
    """
    options = dict((option, plugin.get_option(option)) for option in AUTH_OPTIONS)
    return connect(options, logger=lambda line: display.vvvv("%s: %s" % (name, line)),
                   warn=lambda text: display.warning("%s: %s" % (name, text)), client_class=client_class)
