"""What Ansible's plugin loader does with a plugin's DOCUMENTATION before its options can be read: merge the doc
fragments it extends (``lxdcp.maas.auth``, ``lxdcp.maas.auth.plugin``, ``constructed``, ...) and register the options."""

from __future__ import annotations

import importlib

import yaml
from ansible import constants as C
from ansible.utils.plugin_docs import merge_fragment

COLLECTION_FRAGMENTS = "ansible_collections.lxdcp.maas.plugins.doc_fragments."


def fragment_options(name):
    """The options of one doc fragment: ``[namespace.collection.]module[.VARIABLE]`` (DOCUMENTATION by default)."""
    parts = name.split(".")
    if name.startswith("lxdcp.maas."):
        package, parts = COLLECTION_FRAGMENTS, parts[2:]
    else:
        package = "ansible.plugins.doc_fragments."
    fragment = importlib.import_module(package + parts[0]).ModuleDocFragment
    text = getattr(fragment, parts[1].upper()) if len(parts) > 1 else fragment.DOCUMENTATION
    return yaml.safe_load(text)["options"]


def register_options(kind, plugin_name, documentation):
    """Register the options of the plugin ``plugin_name`` of ``kind`` (lookup, inventory) from its DOCUMENTATION."""
    doc = yaml.safe_load(documentation)
    for name in doc["extends_documentation_fragment"]:
        merge_fragment(doc["options"], fragment_options(name))
    C.config.initialize_plugin_configuration_definitions(kind, plugin_name, doc["options"])
