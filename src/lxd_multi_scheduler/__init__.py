"""lxd-multi-scheduler: scheduling service for several LXD servers."""
