"""Every container image compose.yml and the Dockerfile use is pinned and comes from a repository that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"

# Repositories that were deleted: a pull fails with "pull access denied ... repository does not exist".
GONE_REPOSITORIES = {
    "minio/minio": "deleted from Docker Hub in September 2026; use quay.io/minio/minio",
    "minio/mc": "deleted from Docker Hub in September 2026; use quay.io/minio/mc",
}
# `${NAME:-default}` in compose.yml, `${NAME}` in the Dockerfile.
COMPOSE_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}")


def _compose_images() -> dict[str, str]:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    return {
        name: COMPOSE_VARIABLE.sub(lambda match: match.group(1), service["image"])
        for name, service in services.items()
        if "image" in service
    }


def _dockerfile_images() -> list[str]:
    text = DOCKERFILE.read_text()
    arguments = dict(re.findall(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)", text, flags=re.MULTILINE))
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, flags=re.MULTILINE | re.IGNORECASE))
    images = []
    for reference in re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE):
        resolved = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda match: arguments[match.group(1)], reference)
        if resolved not in stages:
            images.append(resolved)
    return images


def _repository_and_tag(reference: str) -> tuple[str, str | None, str | None]:
    """`registry/name:tag@digest` → (repository, tag, digest); the Docker Hub library prefix is dropped."""
    reference, _, digest = reference.partition("@")
    last_slash = reference.rfind("/")
    name_part = reference[last_slash + 1 :]
    tag = name_part.partition(":")[2] or None
    repository = reference[: last_slash + 1] + name_part.partition(":")[0]
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/"):
        repository = repository.removeprefix(prefix)
    return repository, tag, digest or None


IMAGES = sorted({*_compose_images().values(), *_dockerfile_images()})


def test_the_image_references_are_found() -> None:
    assert "caddy" in {_repository_and_tag(image)[0] for image in IMAGES}
    assert len(_dockerfile_images()) >= 1


@pytest.mark.parametrize("image", IMAGES)
def test_every_image_is_pinned_by_a_tag_or_a_digest(image: str) -> None:
    _repository, tag, digest = _repository_and_tag(image)
    assert digest or tag, f"{image} has neither tag nor digest: it floats to whatever `latest` is"
    assert digest or tag not in {"latest", "stable", "edge"}, f"{image} uses a moving tag"


@pytest.mark.parametrize("image", IMAGES)
def test_no_image_comes_from_a_repository_known_to_be_gone(image: str) -> None:
    repository, _tag, _digest = _repository_and_tag(image)
    assert repository not in GONE_REPOSITORIES, f"{image}: {GONE_REPOSITORIES.get(repository)}"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("minio/minio:RELEASE.2024-10-13T13-34-11Z", ("minio/minio", "RELEASE.2024-10-13T13-34-11Z", None)),
        ("docker.io/minio/mc", ("minio/mc", None, None)),
        ("quay.io/minio/mc:RELEASE.x", ("quay.io/minio/mc", "RELEASE.x", None)),
        ("localhost:5000/app@sha256:ab", ("localhost:5000/app", None, "sha256:ab")),
        ("postgres:16.9-alpine", ("postgres", "16.9-alpine", None)),
    ],
)
def test_image_references_are_split_into_repository_tag_and_digest(
    reference: str, expected: tuple[str, str | None, str | None]
) -> None:
    assert _repository_and_tag(reference) == expected
