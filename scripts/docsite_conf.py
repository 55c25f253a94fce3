"""Additions to the conf.py of ``antsibull-docs sphinx-init`` (``scripts/docsite.sh`` appends this file).

* ``.. markdown-page:: placement.md`` (the body of every ``docs/docsite/rst/*.rst``): a page of the collection's
  ``docs/`` directory, read by MyST. The Markdown pages are the one source of the guides: GitHub shows them as they
  are, and the docsite renders the same files (antsibull-docs takes extra docs as RST only).
* Links of those pages to files of the repository that are not pages (``../roles/provision/README.md``) point to the
  repository (``galaxy.yml``'s ``repository``, branch ``main``).
* No intersphinx download (the build runs offline); the few labels of the Ansible docs that antsibull-docs' pages
  use, and the environment variables of Ansible's settings (the inventory cache options), resolve to their fixed
  URLs. Any other unresolved reference is still a warning, and warnings fail the build.
"""

# This file is appended to a generated conf.py, which already defines extensions, nitpicky and intersphinx_mapping.
# pylint: disable=used-before-assignment,undefined-variable,invalid-name

import os
import posixpath

import yaml
from docutils import nodes
from docutils.parsers.rst import directives
from docutils.parsers.rst.directives.misc import Include
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

LXDCP_ROOT = os.environ["LXDCP_COLLECTION_ROOT"]
with open(os.path.join(LXDCP_ROOT, "galaxy.yml"), encoding="utf-8") as _galaxy:
    LXDCP_REPOSITORY = yaml.safe_load(_galaxy)["repository"].rstrip("/")

ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/latest/"
ANSIBLE_LABELS = {
    "common_return_values": ("reference_appendices/common_return_values.html", "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html", "Ansible Configuration Settings"),
    "action_plugins": ("plugins/action.html", "action plugin"),  # the note on each module: it has an action plugin
}

extensions = [name for name in extensions if name != "sphinx.ext.intersphinx"] + ["myst_parser"]
intersphinx_mapping = {}
myst_heading_anchors = 4


class MarkdownPage(Include):
    """``.. markdown-page:: NAME.md``: ``docs/NAME.md`` of the collection, parsed by MyST in place of the directive."""

    required_arguments = 1
    optional_arguments = 0
    final_argument_whitespace = False
    option_spec = {}

    def run(self):
        name = self.arguments[0]
        if posixpath.basename(name) != name or not name.endswith(".md"):
            raise self.error("markdown-page takes the file name of a Markdown page of docs/, not %r" % name)
        path = os.path.join(LXDCP_ROOT, "docs", name)
        if not os.path.isfile(path):
            raise self.error("markdown-page: no page %s" % path)
        self.arguments = [path]
        self.options = {"parser": directives.parser_name("myst_parser.sphinx_")}
        self.state.document.settings.record_dependencies.add(path)
        return super().run()


class MarkdownPageLinks(SphinxPostTransform):
    """Links of the Markdown pages: ``roles.md#tags`` to that guide of the docsite, ``../roles/deploy/README.md`` to the
    file in the repository. Runs before MyST's resolver, which warns about what is left (a page that is no guide)."""

    default_priority = 5

    def run(self, **kwargs):
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst":
                continue
            target, dummy, anchor = node["reftarget"].partition("#")
            refdoc = node.get("refdoc") or self.env.docname
            reference = None
            if posixpath.basename(target) == target and target.endswith(".md"):
                docname = posixpath.join(posixpath.dirname(refdoc), target[:-3])
                if docname in self.env.all_docs:
                    uri = self.app.builder.get_relative_uri(refdoc, docname) + ("#" + anchor if anchor else "")
                    reference = nodes.reference("", "", internal=True, refuri=uri)
            elif target.startswith("../"):
                path = posixpath.normpath(posixpath.join("docs", target))
                if not path.startswith("../") and os.path.exists(os.path.join(LXDCP_ROOT, path)):
                    reference = nodes.reference("", "", internal=False, refuri="%s/blob/main/%s" % (LXDCP_REPOSITORY, path))
            if reference is not None:
                reference += node.children
                node.replace_self(reference)


def _missing_reference(app, env, node, contnode):  # pylint: disable=unused-argument
    """Resolve the labels of the Ansible docs that antsibull-docs' pages use."""
    target = node.get("reftarget", "")
    if node.get("reftype") == "ref" and target in ANSIBLE_LABELS:
        path, title = ANSIBLE_LABELS[target]
        return nodes.reference("", title, internal=False, refuri=ANSIBLE_DOCS + path)
    if node.get("reftype") == "envvar" and target.startswith("ANSIBLE_"):  # the config settings' variables
        reference = nodes.reference("", "", internal=False, refuri=ANSIBLE_DOCS + "reference_appendices/config.html#envvar-" + target)
        reference += contnode
        return reference
    return None


def setup(app):
    """Register the directive and the reference resolver."""
    app.add_directive("markdown-page", MarkdownPage)
    app.add_post_transform(MarkdownPageLinks)
    app.connect("missing-reference", _missing_reference)
