"""Contract tests for the event JSON Schemas: validity, examples, counter-examples, compatibility, types."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from schemas import registry  # noqa: E402

EVENTS_DIR = ROOT / "schemas" / "events"
BASELINE_DIR = ROOT / "schemas" / "baseline"
COUNTER_DIR = Path(__file__).resolve().parent / "counterexamples"
SCHEMA_FILES = registry.schema_files()
EVENT_SCHEMA_FILES = sorted(registry.EVENT_SCHEMAS.values())


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _examples() -> Iterator[Any]:
    for name in SCHEMA_FILES:
        for index, example in enumerate(registry.load_schema(name).get("examples", [])):
            yield pytest.param(name, example, id=f"{name}[{index}]")


def _counter_examples() -> Iterator[Any]:
    for path in sorted(COUNTER_DIR.glob("*/*.json")):
        yield pytest.param(f"{path.parent.name}.schema.json", path, id=f"{path.parent.name}/{path.name}")


def test_the_expected_schema_files_exist() -> None:
    expected = {
        "envelope",
        "product",
        "product-created",
        "product-updated",
        "product-deleted",
        "low-stock-warning",
        "notice",
    }
    assert set(SCHEMA_FILES) == {f"{stem}.schema.json" for stem in expected}


@pytest.mark.parametrize("schema_file", SCHEMA_FILES)
def test_every_schema_is_valid_against_the_2020_12_metaschema(schema_file: str) -> None:
    schema = registry.load_schema(schema_file)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"{registry.BASE_URI}{schema_file}"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("schema_file", SCHEMA_FILES)
def test_every_schema_carries_examples(schema_file: str) -> None:
    assert registry.load_schema(schema_file).get("examples"), f"{schema_file} has no examples"


@pytest.mark.parametrize(("schema_file", "example"), list(_examples()))
def test_every_example_validates(schema_file: str, example: Any) -> None:
    registry.validator_for(schema_file).validate(example)


@pytest.mark.parametrize("schema_file", SCHEMA_FILES)
def test_every_schema_has_at_least_three_counter_examples(schema_file: str) -> None:
    stem = schema_file.removesuffix(".schema.json")
    assert len(list((COUNTER_DIR / stem).glob("*.json"))) >= 3


def test_every_counter_example_directory_names_a_schema() -> None:
    for directory in COUNTER_DIR.iterdir():
        if directory.is_dir():
            assert f"{directory.name}.schema.json" in SCHEMA_FILES, directory.name


@pytest.mark.parametrize(("schema_file", "path"), list(_counter_examples()))
def test_every_counter_example_is_rejected(schema_file: str, path: Path) -> None:
    errors = list(registry.validator_for(schema_file).iter_errors(_load(path)))
    assert errors, f"{path.relative_to(ROOT)} unexpectedly validates against {schema_file}"


@pytest.mark.parametrize(("event_type", "schema_file"), sorted(registry.EVENT_SCHEMAS.items()))
def test_validate_event_picks_the_schema_of_the_event_type(event_type: str, schema_file: str) -> None:
    schema = registry.load_schema(schema_file)
    assert schema["properties"]["type"]["const"] == event_type
    for example in schema["examples"]:
        registry.validate_event(example)
    other = next(name for name in EVENT_SCHEMA_FILES if name != schema_file)
    mislabelled = {**registry.load_schema(other)["examples"][0], "type": event_type}
    with pytest.raises(ValidationError):
        registry.validate_event(mislabelled)


@pytest.mark.parametrize("event_type", ["inventory.product.renamed", "", None, 42])
def test_validate_event_rejects_unknown_types(event_type: Any) -> None:
    event = {**registry.load_schema("product-created.schema.json")["examples"][0], "type": event_type}
    with pytest.raises(ValidationError):
        registry.validate_event(event)


def test_validate_event_rejects_an_event_without_type() -> None:
    event = dict(registry.load_schema("product-created.schema.json")["examples"][0])
    del event["type"]
    with pytest.raises(ValidationError):
        registry.validate_event(event)


def test_validate_notice_accepts_examples_and_rejects_counter_examples() -> None:
    for example in registry.load_schema("notice.schema.json")["examples"]:
        registry.validate_notice(example)
    for path in sorted((COUNTER_DIR / "notice").glob("*.json")):
        with pytest.raises(ValidationError):
            registry.validate_notice(_load(path))


def test_validator_for_is_cached_and_checks_formats() -> None:
    validator = registry.validator_for("notice.schema.json")
    assert validator is registry.validator_for("notice.schema.json")
    assert validator.format_checker is not None
    example = registry.load_schema("notice.schema.json")["examples"][0]
    assert not validator.is_valid({**example, "time": "soon"})


def test_asyncapi_messages_reference_the_event_schemas() -> None:
    asyncapi = yaml.safe_load((ROOT / "schemas" / "asyncapi.yaml").read_text(encoding="utf-8"))
    assert asyncapi["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in asyncapi["channels"].values()}
    assert addresses == {"inventory.product-events", "inventory.notifications", "inventory.dead-letters"}
    payload_refs = {
        message["payload"]["$ref"]
        for message in asyncapi["components"]["messages"].values()
        if "$ref" in message["payload"]
    }
    for ref in payload_refs:
        assert (ROOT / "schemas" / ref).is_file(), ref
    expected = {f"./events/{name}" for name in [*EVENT_SCHEMA_FILES, registry.NOTICE_SCHEMA]}
    assert payload_refs == expected


# --- compatibility with the frozen baseline ----------------------------------------------------------


def _dataschema(schema: dict[str, Any]) -> str | None:
    return schema.get("properties", {}).get("dataschema", {}).get("const")


def _compat_problems(current: Any, baseline: Any, path: str = "#") -> list[str]:
    """Return breaking differences: required lists that grew, and properties that disappeared."""
    problems: list[str] = []
    if isinstance(current, dict) and isinstance(baseline, dict):
        added_required = set(current.get("required", [])) - set(baseline.get("required", []))
        if added_required:
            problems.append(f"{path}/required adds {sorted(added_required)}")
        if isinstance(baseline.get("properties"), dict):
            removed = set(baseline["properties"]) - set(current.get("properties", {}))
            if removed:
                problems.append(f"{path}/properties removes {sorted(removed)}")
        for key in baseline.keys() & current.keys():
            if key not in ("examples", "required"):
                problems.extend(_compat_problems(current[key], baseline[key], f"{path}/{key}"))
    elif isinstance(current, list) and isinstance(baseline, list):
        for index, (cur, base) in enumerate(zip(current, baseline, strict=False)):
            problems.extend(_compat_problems(cur, base, f"{path}/{index}"))
    return problems


def test_compat_checker_detects_breaking_changes() -> None:
    base = {"type": "object", "required": ["a"], "properties": {"a": {}, "b": {"properties": {"c": {}}}}}
    assert _compat_problems(base, base) == []
    with_optional = {**base, "properties": {**base["properties"], "d": {}}}
    assert _compat_problems(with_optional, base) == []
    assert _compat_problems({**base, "required": ["a", "b"]}, base)
    assert _compat_problems({**base, "properties": {"a": {}, "b": {"properties": {}}}}, base)


def test_every_event_schema_has_a_baseline() -> None:
    assert sorted(p.name for p in BASELINE_DIR.glob("*.schema.json")) == SCHEMA_FILES


@pytest.mark.parametrize("schema_file", SCHEMA_FILES)
def test_schema_changes_are_backward_compatible_or_bump_the_dataschema_version(schema_file: str) -> None:
    current = registry.load_schema(schema_file)
    baseline = _load(BASELINE_DIR / schema_file)
    if _dataschema(current) != _dataschema(baseline):
        return  # a new dataschema version may break compatibility by design
    assert _compat_problems(current, baseline) == []
    baseline_registry: Registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in map(_load, sorted(BASELINE_DIR.glob("*.schema.json")))
    )
    baseline_validator = Draft202012Validator(baseline, registry=baseline_registry)
    for example in baseline.get("examples", []):
        baseline_validator.validate(example)
        registry.validator_for(schema_file).validate(example)


# --- generated pydantic types ----------------------------------------------------------------------


def test_generated_types_are_up_to_date(tmp_path: Path) -> None:
    output = tmp_path / "types.py"
    subprocess.run(["bash", str(ROOT / "schemas" / "generate_types.sh"), str(output)], check=True, cwd=ROOT)
    committed = (ROOT / "schemas" / "types.py").read_text(encoding="utf-8")
    assert output.read_text(encoding="utf-8") == committed, "run: bash schemas/generate_types.sh"


@pytest.mark.parametrize(
    ("schema_file", "model_name"),
    [
        ("envelope.schema.json", "CloudEventEnvelope"),
        ("product.schema.json", "ProductSnapshot"),
        ("product-created.schema.json", "ProductCreated"),
        ("product-updated.schema.json", "ProductUpdated"),
        ("product-deleted.schema.json", "ProductDeleted"),
        ("low-stock-warning.schema.json", "LowStockWarning"),
        ("notice.schema.json", "Notice"),
    ],
)
def test_generated_types_accept_the_schema_examples(schema_file: str, model_name: str) -> None:
    from schemas import types

    model = getattr(types, model_name)
    for example in registry.load_schema(schema_file)["examples"]:
        assert model.model_validate(example).model_dump(mode="json", by_alias=True) == example
