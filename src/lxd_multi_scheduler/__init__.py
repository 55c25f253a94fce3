"""lxd-multi-scheduler: scheduling service for several LXD servers."""

__version__ = "1.0.0"
