"""Command line: ``lxd-multi-scheduler [--config FILE] [--bind ADDR] [--port N] [--ready-file FILE] [--check-config]``."""

from __future__ import annotations

import argparse
import json
import logging
import socket
import ssl
import sys
import threading

import uvicorn

from . import __version__, logs
from .api import create_app
from .config import ConfigError, Settings, load_settings

LOG = logging.getLogger("lxd_multi_scheduler")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lxd-multi-scheduler", description="HTTP scheduling service for several LXD servers.")
    parser.add_argument("--config", help="YAML or JSON configuration file (env LXD_MULTI_SCHEDULER_CONFIG)")
    parser.add_argument("--bind", help="address to listen on (env LXD_MULTI_SCHEDULER_BIND, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (env LXD_MULTI_SCHEDULER_PORT, else PORT; default 8080; 0 picks a free one)")
    parser.add_argument("--ready-file", help="write the base URL to this file once the server accepts connections")
    parser.add_argument("--check-config", action="store_true", help="validate the configuration, print a summary and exit")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def summary(settings: Settings) -> dict:
    """The configuration without secrets (for --check-config and the start log)."""
    return {
        "hosts": [{"name": host.label, "url": host.url} for host in settings.hosts],
        "lxd_unverified": settings.unverified_hosts(),
        "bind": settings.bind,
        "port": settings.port,
        "strategy": settings.strategy,
        "cache_ttl": settings.cache_ttl,
        "reservation_ttl": settings.reservation_ttl,
        "store": "redis" if settings.redis_url else "memory",
        "api_keys": len(settings.api_keys),
        "tls": bool(settings.tls),
        "mtls": bool(settings.tls and settings.tls.client_ca),
    }


def _listen(bind: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio turns on TCP_NODELAY only for sockets that say they are TCP;
    # without it every answer waits for the client's delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((bind, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _announce(server: uvicorn.Server, url: str, ready_file: str | None) -> None:
    """Wait until uvicorn serves, then log the URL and write the ready file."""
    while not server.started and not server.should_exit:
        threading.Event().wait(0.02)
    if server.started:
        logs.log(LOG, logging.INFO, "listening", event="listening", url=url)
        if ready_file:
            with open(ready_file, "w", encoding="utf-8") as handle:
                handle.write(url + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config, bind=args.bind, port=args.port)
    except ConfigError as exc:
        print(f"lxd-multi-scheduler: {exc}", file=sys.stderr)
        return 2
    if args.check_config:
        print(json.dumps(summary(settings), indent=2))
        return 0
    try:
        sock = _listen(settings.bind, settings.port)
    except OSError as exc:
        print(f"lxd-multi-scheduler: cannot listen on {settings.bind}:{settings.port}: {exc.strerror}", file=sys.stderr)
        return 2
    log_config = logs.configure(settings.log_level)
    host, port = sock.getsockname()[:2]
    scheme = "https" if settings.tls else "http"
    url = f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"
    tls = settings.tls
    config = uvicorn.Config(
        create_app(settings),
        log_config=log_config,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        ssl_certfile=tls.cert if tls else None,
        ssl_keyfile=tls.key if tls else None,
        ssl_ca_certs=tls.client_ca if tls else None,
        ssl_cert_reqs=ssl.CERT_REQUIRED if tls and tls.client_ca else ssl.CERT_NONE,
    )
    server = uvicorn.Server(config)
    threading.Thread(target=_announce, args=(server, url, args.ready_file), daemon=True).start()
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
