# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 tests for the names MAAS accepts: the rules of module_utils/names.py, for roles and playbooks.

Documented in the sidecar files maas_hostname.yml, maas_tag.yml and dns_name.yml next to this one.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.names import valid_dns_name, valid_hostname, valid_tag


class TestModule(object):
    """The tests ``lxdcp.maas.maas_hostname``, ``lxdcp.maas.maas_tag`` and ``lxdcp.maas.dns_name``."""

    def tests(self):
        return {
            "maas_hostname": valid_hostname,
            "maas_tag": valid_tag,
            "dns_name": valid_dns_name,
        }
