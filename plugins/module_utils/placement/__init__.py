# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement core of lxdcp.maas: ``core`` decides where VMs go, ``explain`` words the decisions.

Standard library only. The ``maas_lxd_vm`` module, the ``maas_placement`` lookup and
``lxd-multi-scheduler`` (which installs this package as ``lxdcp_maas_core.placement``) share it;
``docs/placement.md`` describes the rules and ``docs/design.md`` the contract.
"""
