"""Make the working tree importable as ansible_collections.lxdcp.maas for every test."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, "collections")
TREE = os.path.join(COLLECTIONS, "ansible_collections", "lxdcp", "maas")

if not os.path.exists(TREE):
    os.makedirs(os.path.dirname(TREE), exist_ok=True)
    os.symlink(os.path.join("..", "..", ".."), TREE)

if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", COLLECTIONS)
