#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the action lxdcp.maas.validate_role_inputs (plugins/action/validate_role_inputs.py): no module code."""

from __future__ import annotations

DOCUMENTATION = r"""
module: validate_role_inputs
short_description: Check the inputs of the collection's provision, deploy or release role on one machine
version_added: 1.1.0
description:
  - The first task of the C(lxdcp.maas.provision), C(lxdcp.maas.deploy) and C(lxdcp.maas.release) roles on each machine,
    before any request to MAAS.
  - Validates the role's variables against the role's argument spec (its C(meta/argument_specs.yml)) as Ansible
    validates a role's arguments, and fails the same way (C(Validation of arguments failed) and RV(argument_errors)).
  - Then checks the values together, which an argument spec cannot do - the settings the three roles share (the cluster
    name is set and is a MAAS tag name, the machine's hostname is a MAAS hostname, the provisioning mode, the provider ID
    scheme C(lxdcp_vm_provider_id_scheme), the MAAS URL and API key are set) and each role's own (the provision role's
    static-IP settings, the deploy role's API port, endpoint, DNS name and preferred subnets). Every problem is
    reported in one message that names the machine (RV(problems)).
  - Each variable is rendered once, for both. The roles run it where Ansible would run its own validation task, so a
    play that imports them with C(rolespec_validate=false), as the collection's playbooks do, runs one task per
    machine instead of two. A role used without that setting is validated by Ansible first, then by this task again.
  - The API key is only checked for being set; it never appears in a message.
author:
  - lxdcp.maas maintainers (@lxdcp)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
options:
  role:
    description:
      - The role whose variables are checked (C(<role>_*), and C(lxdcp_vm_provider_id_scheme)).
    type: str
    required: true
    choices: [provision, deploy, release]
  entry_point:
    description:
      - The entry point of the role's argument spec to validate against.
    type: str
    default: main
attributes:
  action:
    support: full
    details: The task runs on the controller, without a module.
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: The task changes nothing; it runs the same in check mode.
  connection:
    support: none
  delegation:
    support: none
    details: The variables checked are those of the task's host.
  diff_mode:
    support: none
  platform:
    platforms: all
seealso:
  - name: ansible.builtin.validate_argument_spec
    description: Ansible's validation of a role's arguments, which this task makes with the same validator.
    link: https://docs.ansible.com/ansible/latest/collections/ansible/builtin/validate_argument_spec_module.html
  - plugin: lxdcp.maas.setting_problems
    plugin_type: filter
"""

EXAMPLES = r"""
# The provision role's first task (roles/provision/tasks/validate.yml).
- name: Check the arguments of the role and the values of this machine
  lxdcp.maas.validate_role_inputs:
    role: provision

# A play that runs the role without Ansible's own validation of its arguments, which the role's first task makes.
- name: Control plane
  hosts: control_plane
  gather_facts: false
  tasks:
    - name: Compose the machines
      ansible.builtin.import_role:
        name: lxdcp.maas.provision
        rolespec_validate: false
"""

RETURN = r"""
msg:
  description: What was found.
  returned: always
  type: str
  sample: "cp-1: hostname \"cp-1.maas\" is not a MAAS hostname (letters, digits and -, at most 63 characters, no dots); set lxdcp_hostname"
problems:
  description: Each problem of the values, in the order of the message (after the argument spec passed).
  returned: failure
  type: list
  elements: str
  sample: ["set provision_cluster (or lxdcp_cluster) to the name of the cluster"]
argument_errors:
  description: The errors of the validation against the argument spec, as Ansible reports them for a role.
  returned: failure
  type: list
  elements: str
  sample: ["argument 'provision_cores' is of type str and we were unable to convert to int: ..."]
argument_spec_data:
  description: The options of the argument spec's entry point, when the validation against it failed.
  returned: failure
  type: dict
validate_args_context:
  description: The role and entry point validated.
  returned: always
  type: dict
  sample: {"type": "role", "name": "provision", "argument_spec_name": "main", "path": "/collections/ansible_collections/lxdcp/maas/roles/provision"}
"""
