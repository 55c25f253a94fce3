"""``maas-sim`` command line: serve a simulated MAAS region API (3.6 by default, or 4.0)."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

import uvicorn

from .scenario import ScenarioError
from .server import DropFilter, Simulator

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="maas-sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5240, help="TCP port; 0 picks a free one (default 5240)")
    parser.add_argument("--scenario", help="scenario YAML file (default: the packaged default scenario)")
    parser.add_argument("--state", help="SQLite file holding the state; reused across restarts (default: in memory)")
    parser.add_argument("--api-key", help="API key (consumer:token:secret) of the scenario's first admin user")
    parser.add_argument("--maas-version", help="MAAS version to simulate, overriding the scenario's (e.g. 3.6.1, 4.0: no VM hosts)")
    parser.add_argument("--ready-file", help="file that receives the base URL once the server accepts connections")
    parser.add_argument("--no-admin-api", dest="admin_api", action="store_false",
                        help="serve no /_sim/ admin API (404 there, as on a real MAAS): a stand-in for a live MAAS")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="warning", help="log level (default warning)")
    return parser.parse_args(argv)


class _Server(uvicorn.Server):
    """uvicorn server that announces itself once it listens."""

    def __init__(self, config: uvicorn.Config, url: str, ready_file: str | None, admin_api: bool = True):
        super().__init__(config)
        self.admin_api = admin_api
        self.url = url
        self.ready_file = ready_file

    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        admin = f"admin API at {self.url.rsplit('/MAAS', 1)[0]}/_sim/" if self.admin_api else "no admin API"
        print(f"maas-sim: MAAS API at {self.url}/api/2.0/ ({admin})", flush=True)
        if self.ready_file:
            partial = self.ready_file + ".partial"
            with open(partial, "w", encoding="utf-8") as handle:
                handle.write(self.url + "\n")
            os.replace(partial, self.ready_file)


def main(argv=None) -> int:
    """Entry point of the ``maas-sim`` console script."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        sim = Simulator(scenario_path=args.scenario, state_path=args.state, api_key=args.api_key, maas_version=args.maas_version,
                        admin_api=args.admin_api)
    except ScenarioError as exc:
        print(f"maas-sim: {exc}", file=sys.stderr)
        return 2
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"maas-sim: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    url = f"http://{host}:{port}/MAAS"
    sim.base_url = url
    logging.getLogger("uvicorn.error").addFilter(DropFilter())
    config = uvicorn.Config(sim, log_level=args.log_level, access_log=args.log_level == "debug", lifespan="on", server_header=False)
    server = _Server(config, url, args.ready_file, args.admin_api)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
