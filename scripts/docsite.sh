#!/usr/bin/env bash
# make docs: the collection's HTML documentation, built the antsibull-docs way (sphinx-init, then its build.sh:
# antsibull-docs collection --fail-on-error and sphinx-build -W, so a warning fails the build).
# It documents whatever the collection has (modules, plugins, roles' argument specs) and the guides of
# docs/docsite/extra-docs.yml (docs/docsite/rst/*.rst, whose bodies are docs/*.md: scripts/docsite_conf.py).
# Usage: scripts/docsite.sh [DEST]   (default build/docsite; the site is DEST/build/html)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/build/docsite}
export LXDCP_COLLECTION_ROOT=$root
export ANSIBLE_COLLECTIONS_PATH=$root/collections ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
rm -rf "$dest"
mkdir -p "$dest"
antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error --dest-dir "$dest" \
  --project lxdcp.maas --title "lxdcp.maas" --html-short-title "lxdcp.maas" lxdcp.maas > /dev/null
cat "$root/scripts/docsite_conf.py" >> "$dest/conf.py"
"$dest/build.sh"
echo "docsite: $dest/build/html/index.html"
