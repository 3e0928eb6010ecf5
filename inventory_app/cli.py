"""Command line tools for the app (run on the server, so they act as `system`):

python -m inventory_app.cli users create --role admin EMAIL     the first admin (asks for a password)
python -m inventory_app.cli users list
python -m inventory_app.cli users reset-password EMAIL
python -m inventory_app.cli tokens create --user EMAIL --name NAME [--expires-in-days N]
python -m inventory_app.cli seed --products N                    demo products
"""

from __future__ import annotations

import argparse
import getpass
import random
import secrets
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from inventory_app.adapters.pg_pool import run_with_pool
from inventory_app.domain.errors import DomainError, DuplicateEmail, DuplicateSku
from inventory_app.domain.identity import SYSTEM, Role
from inventory_app.services import identity, products

DEMO_CATEGORIES = ("Tools", "Fasteners", "Electrical", "Plumbing", "Safety")
DEMO_NOUNS = ("Hammer", "Wrench", "Bolt", "Screw", "Cable", "Switch", "Pipe", "Valve", "Gloves", "Goggles")
DEMO_ADJECTIVES = ("Heavy-duty", "Compact", "Stainless", "Insulated", "Galvanised", "Pro", "Mini")
MAX_SEED_PRODUCTS = 1_000_000


def demo_payload(number: int, rng: random.Random) -> dict[str, object]:
    return {
        "sku": f"DEMO-{number:06d}",
        "name": f"{rng.choice(DEMO_ADJECTIVES)} {rng.choice(DEMO_NOUNS)} {number}",
        "description": "Demo product created by `inventory_app.cli seed`.",
        "category": rng.choice(DEMO_CATEGORIES),
        "price": f"{rng.randint(50, 50_000) / 100:.2f}",
        "quantity": rng.randint(0, 200),
        "low_stock_threshold": rng.choice((0, 5, 10, 20)),
    }


async def seed(count: int, *, seed_value: int | None = None) -> tuple[int, int]:
    """Create `count` demo products through the service layer; returns (created, skipped existing)."""
    rng = random.Random(seed_value)
    created = skipped = 0
    # The bar goes to stderr so stdout carries only the summary line.
    columns = (TextColumn("seeding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("seed", total=count)
        for number in range(1, count + 1):
            try:
                await products.create_product(demo_payload(number, rng), by=SYSTEM)
                created += 1
            except DuplicateSku:
                skipped += 1
            progress.advance(task)
    return created, skipped


_run = run_with_pool


def _read_password(args: argparse.Namespace) -> tuple[str, bool]:
    """From stdin (--password-stdin, for scripts), generated (--generate-password) or asked twice."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    if args.generate_password or not sys.stdin.isatty():
        return secrets.token_urlsafe(18), True
    while True:
        first = getpass.getpass("Password (at least 12 characters): ")
        if first == getpass.getpass("Again: "):
            return first, False
        print("The passwords differ; try again.", file=sys.stderr)


def users_command(args: argparse.Namespace) -> int:
    if args.users_command == "create":
        password, generated = _read_password(args)
        payload = {"email": args.email, "name": args.name, "role": args.role, "password": password}
        user = _run(identity.create_user(payload, by=SYSTEM))
        print(f"created {user['role']} {user['email']}")
        if generated:
            print(f"password: {password}  (shown once; change it on the account page, /account)")
    elif args.users_command == "list":
        page = _run(identity.list_users(by=SYSTEM, limit=200))
        for user in page["data"]:
            state = "disabled" if user["disabled"] else "active"
            print(f"{user['email']:40} {user['role']:7} {state:8} last sign-in {user['last_sign_in_at'] or 'never'}")
        print(f"{page['count']} users")
    elif args.users_command == "reset-password":
        password, generated = _read_password(args)

        async def reset() -> None:
            user = await identity.principal_for_email(args.email)
            await identity.reset_password(user.user_id, {"new_password": password}, by=SYSTEM)

        _run(reset())
        print(f"password reset for {args.email}; their sessions were ended")
        if generated:
            print(f"password: {password}  (shown once)")
    return 0


def tokens_command(args: argparse.Namespace) -> int:
    token = _run(identity.create_token_for(args.user, args.name, expires_in_days=args.expires_in_days))
    print(token["token"])  # stdout carries only the secret, for `TOKEN=$(... tokens create ...)`
    print(f"token {token['prefix']}… '{token['name']}' for {args.user} (shown once)", file=sys.stderr)
    return 0


FIRST_ADMIN_HINT = "python -m inventory_app.cli users create --role admin you@example.com"
DEMO_ADMIN_EMAIL = "admin@demo.example"


def first_run() -> int:
    """`make dev` runs this: on a database without users, say how to make the first admin."""
    page = _run(identity.list_users(by=SYSTEM, limit=1))
    if page["count"] == 0:
        print("No users yet. Create the first admin (it asks for a password), then sign in:")
        print(f"    .venv/bin/{FIRST_ADMIN_HINT}")
    return 0


def demo_admin() -> None:
    """A demo admin with a random password printed once (never a fixed default), unless one exists."""
    password = secrets.token_urlsafe(15)
    payload = {"email": DEMO_ADMIN_EMAIL, "name": "Demo admin", "role": "admin", "password": password}
    try:
        _run(identity.create_user(payload, by=SYSTEM))
    except DuplicateEmail:
        print(f"demo admin {DEMO_ADMIN_EMAIL} exists already (reset: users reset-password {DEMO_ADMIN_EMAIL})")
        return
    print(f"demo admin: {DEMO_ADMIN_EMAIL}  password: {password}  (shown once)")


def _password_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    group.add_argument("--generate-password", action="store_true", help="generate one and print it once")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inventory_app.cli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    users = commands.add_parser("users", help="user accounts").add_subparsers(dest="users_command", required=True)
    create = users.add_parser("create", help="create a user")
    create.add_argument("email")
    create.add_argument("--role", choices=[r.value for r in Role], required=True)
    create.add_argument("--name", default="")
    _password_options(create)
    users.add_parser("list", help="list users")
    reset = users.add_parser("reset-password", help="set a new password and end the user's sessions")
    reset.add_argument("email")
    _password_options(reset)
    tokens = commands.add_parser("tokens", help="API tokens").add_subparsers(dest="tokens_command", required=True)
    token_create = tokens.add_parser("create", help="create an API token for a user; prints it once")
    token_create.add_argument("--user", required=True, help="the email of the token's user")
    token_create.add_argument("--name", required=True, help="what the token is for")
    token_create.add_argument("--expires-in-days", type=int, default=None)
    seed_parser = commands.add_parser("seed", help="create demo products (DEMO-000001, ...); existing SKUs are kept")
    seed_parser.add_argument("--products", type=int, default=100, help="how many demo SKUs to ensure (default 100)")
    seed_parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable demo data")
    seed_parser.add_argument("--demo-admin", action="store_true", help=f"also create {DEMO_ADMIN_EMAIL}")
    commands.add_parser("first-run", help="print how to create the first admin when there are no users")
    args = parser.parse_args(argv)
    try:
        if args.command == "users":
            return users_command(args)
        if args.command == "tokens":
            return tokens_command(args)
        if args.command == "first-run":
            return first_run()
    except DomainError as error:
        details = "; ".join(f"{e.field} {e.message}" for e in error.errors)
        print(f"error: {error.detail}{' (' + details + ')' if details else ''}", file=sys.stderr)
        return 1
    if args.command == "seed":
        if not 1 <= args.products <= MAX_SEED_PRODUCTS:
            parser.error(f"--products must be between 1 and {MAX_SEED_PRODUCTS}")
        created, skipped = run_with_pool(seed(args.products, seed_value=args.seed))
        print(f"created {created} products, skipped {skipped} existing SKUs")
        if args.demo_admin:
            demo_admin()
    return 0


if __name__ == "__main__":
    sys.exit(main())
