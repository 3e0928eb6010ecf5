"""Command line tools for the app: `python -m inventory_app.cli seed --products N` adds demo products."""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from inventory_app.domain.errors import DuplicateSku
from inventory_app.services import products

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


def seed(count: int, *, seed_value: int | None = None) -> tuple[int, int]:
    """Create `count` demo products through the service layer; returns (created, skipped existing)."""
    rng = random.Random(seed_value)
    created = skipped = 0
    # The bar goes to stderr so stdout carries only the summary line.
    columns = (TextColumn("seeding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("seed", total=count)
        for number in range(1, count + 1):
            try:
                products.create_product(demo_payload(number, rng))
                created += 1
            except DuplicateSku:
                skipped += 1
            progress.advance(task)
    return created, skipped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inventory_app.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    seed_parser = commands.add_parser("seed", help="create demo products (DEMO-000001, ...); existing SKUs are kept")
    seed_parser.add_argument("--products", type=int, default=100, help="how many demo SKUs to ensure (default 100)")
    seed_parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable demo data")
    args = parser.parse_args(argv)
    if args.command == "seed":
        if not 1 <= args.products <= MAX_SEED_PRODUCTS:
            parser.error(f"--products must be between 1 and {MAX_SEED_PRODUCTS}")
        created, skipped = seed(args.products, seed_value=args.seed)
        print(f"created {created} products, skipped {skipped} existing SKUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
