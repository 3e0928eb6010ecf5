"""Command line: python -m devstack up | down | status | env | start NAME | stop NAME.

Acts on the stack DEVSTACK_STACK names (default `dev`; `make test` uses `test`)."""

from __future__ import annotations

import argparse
import sys

from devstack.config import StackConfig
from devstack.processes import ServiceError
from devstack.services import all_services, by_name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start every service (idempotent) and wait until each is healthy")
    sub.add_parser("down", help="stop every service")
    sub.add_parser("status", help="show each service's state")
    sub.add_parser("env", help="print export lines with every service's address")
    for verb in ("start", "stop"):
        one = sub.add_parser(verb, help=f"{verb} one service")
        one.add_argument("name", choices=[s.name for s in all_services(StackConfig(name="dev"))])
    args = parser.parse_args(argv)
    try:
        config = StackConfig()
    except ValueError as error:
        print(f"devstack: {error}", file=sys.stderr)
        return 2

    try:
        if args.command == "up":
            for service in all_services(config):
                print(f"{service.name:9} {service.start():16} {service.describe()}  [{config.name}]", flush=True)
        elif args.command == "down":
            for service in reversed(all_services(config)):
                print(f"{service.name:9} {service.stop():16} [{config.name}]", flush=True)
        elif args.command == "status":
            down = 0
            for service in all_services(config):
                healthy = service.healthy()
                down += not healthy
                print(f"{service.name:9} {'up' if healthy else 'down':5} {service.describe()}  [{config.name}]")
            return 1 if down else 0
        elif args.command == "env":
            for key, value in config.env_exports().items():
                print(f"export {key}={value}")
        elif args.command == "start":
            service = by_name(config, args.name)
            print(f"{service.name:9} {service.start()}")
        elif args.command == "stop":
            service = by_name(config, args.name)
            print(f"{service.name:9} {service.stop()}")
    except ServiceError as error:
        print(f"devstack: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
