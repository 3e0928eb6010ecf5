"""Contract tests for the event JSON Schemas: validity, examples, counter-examples, compatibility, types."""

from __future__ import annotations

import json
import re
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
EVENT_SCHEMA_FILES = sorted(set(registry.EVENT_VERSIONS.values()))


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
        # 1.4.0: stock by location
        "product-updated.v2",
        "stock-transferred",
        "location-low-stock-warning",
        "notice.v2",
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


@pytest.mark.parametrize(("version", "schema_file"), sorted(registry.EVENT_VERSIONS.items()))
def test_validate_event_picks_the_schema_of_the_event_type_and_version(
    version: tuple[str, str], schema_file: str
) -> None:
    event_type, dataschema = version
    schema = registry.load_schema(schema_file)
    assert schema["properties"]["type"]["const"] == event_type
    assert schema["properties"]["dataschema"]["const"] == dataschema
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


def test_an_unknown_type_is_told_apart_from_a_bad_event_of_a_known_one() -> None:
    """Consumers ignore and count an unknown type (a newer producer's addition), but dead-letter an event of
    a known type that breaks its schema or names a version they do not have (replayable once upgraded)."""
    created = registry.load_schema("product-created.schema.json")["examples"][0]
    with pytest.raises(registry.UnknownEventType):
        registry.validate_event({**created, "type": "inventory.product.renamed"})
    for broken in ({**created, "dataschema": f"{registry.BASE_URI}product-created/9"}, {**created, "data": {}}):
        with pytest.raises(ValidationError) as refused:
            registry.validate_event(broken)
        assert not isinstance(refused.value, registry.UnknownEventType)


def test_a_v2_product_updated_is_checked_against_v2_and_v1_against_v1() -> None:
    v2 = registry.load_schema("product-updated.v2.schema.json")["examples"][0]
    registry.validate_event(v2)
    as_v1 = {**v2, "dataschema": f"{registry.BASE_URI}product-updated/1"}
    with pytest.raises(ValidationError):  # v1 is closed: the locations are a v2 field
        registry.validate_event(as_v1)


def test_validate_event_rejects_an_event_without_type() -> None:
    event = dict(registry.load_schema("product-created.schema.json")["examples"][0])
    del event["type"]
    with pytest.raises(ValidationError):
        registry.validate_event(event)


def test_validate_notice_accepts_examples_and_rejects_counter_examples() -> None:
    for example in [
        *registry.load_schema("notice.schema.json")["examples"],
        *registry.load_schema("notice.v2.schema.json")["examples"],
    ]:
        registry.validate_notice(example)  # a v1 notice is a v2 notice
    for path in sorted((COUNTER_DIR / "notice.v2").glob("*.json")):
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


# --- evolution policy (schemas/CHANGELOG.md): published versions are frozen -------------------------

# Keywords that only annotate a schema: editing them never changes which documents validate.
ANNOTATIONS = frozenset({"title", "description", "examples", "$comment", "deprecated"})
# Keywords whose value maps names to subschemas (the names are data, not keywords).
SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
# Keywords whose list order does not matter.
UNORDERED = frozenset({"required", "enum", "type"})
VERSIONED_FILE = re.compile(r"^(?P<event>[a-z-]+?)(?:\.v(?P<version>[2-9]|[1-9][0-9]+))?\.schema\.json$")


def _meaning(schema: Any) -> Any:
    """The schema without annotations and with unordered lists sorted: equal meaning, equal value."""
    if isinstance(schema, dict):
        meaning: dict[str, Any] = {}
        for key, value in schema.items():
            if key in ANNOTATIONS:
                continue
            if key in SCHEMA_MAPS and isinstance(value, dict):
                meaning[key] = {name: _meaning(sub) for name, sub in value.items()}
            elif key in UNORDERED and isinstance(value, list):
                meaning[key] = sorted(value, key=lambda item: json.dumps(item, sort_keys=True))
            else:
                meaning[key] = _meaning(value)
        return meaning
    if isinstance(schema, list):
        return [_meaning(item) for item in schema]
    return schema


def _dataschema(schema: dict[str, Any]) -> str | None:
    return schema.get("properties", {}).get("dataschema", {}).get("const")


def _baseline_validator(schema_file: str) -> Draft202012Validator:
    baseline_registry: Registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in map(_load, sorted(BASELINE_DIR.glob("*.schema.json")))
    )
    return Draft202012Validator(
        _load(BASELINE_DIR / schema_file),
        registry=baseline_registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def test_meaning_ignores_annotations_and_order_but_sees_every_constraint() -> None:
    base = {
        "type": "object",
        "required": ["name", "description"],
        "additionalProperties": False,
        "properties": {"name": {"type": "string", "description": "Name."}, "description": {"type": "string"}},
    }
    reworded = {**base, "description": "A thing.", "required": ["description", "name"], "examples": [{}]}
    assert _meaning(reworded) == _meaning(base)
    optional_field = {**base, "properties": {**base["properties"], "colour": {"type": "string"}}}
    property_named_description_removed = {**base, "properties": {"name": base["properties"]["name"]}}
    narrowed = {**base, "properties": {**base["properties"], "name": {"type": "string", "maxLength": 9}}}
    opened = {**base, "additionalProperties": True}
    for changed in (optional_field, property_named_description_removed, narrowed, opened):
        assert _meaning(changed) != _meaning(base)


def test_every_event_schema_has_a_baseline() -> None:
    assert sorted(p.name for p in BASELINE_DIR.glob("*.schema.json")) == SCHEMA_FILES


@pytest.mark.parametrize("schema_file", sorted(p.name for p in BASELINE_DIR.glob("*.schema.json")))
def test_a_published_schema_never_changes_its_meaning(schema_file: str) -> None:
    """Closed schemas: even a new optional field breaks a validating consumer, so it needs a new version."""
    assert (EVENTS_DIR / schema_file).is_file(), f"{schema_file} was published and must stay beside newer versions"
    current = registry.load_schema(schema_file)
    baseline = _load(BASELINE_DIR / schema_file)
    assert _meaning(current) == _meaning(baseline), (
        f"{schema_file} changed in meaning: publish the change as a new dataschema version beside it "
        "(schemas/CHANGELOG.md, Evolution policy)"
    )


@pytest.mark.parametrize("schema_file", SCHEMA_FILES)
def test_consumers_built_on_the_baseline_accept_the_events_produced_today(schema_file: str) -> None:
    current = registry.load_schema(schema_file)
    baseline = _load(BASELINE_DIR / schema_file)
    for example in [*baseline.get("examples", []), *current.get("examples", [])]:
        _baseline_validator(schema_file).validate(example)
        registry.validator_for(schema_file).validate(example)


@pytest.mark.parametrize("schema_file", EVENT_SCHEMA_FILES)
def test_every_event_schema_names_the_dataschema_version_of_its_file(schema_file: str) -> None:
    match = VERSIONED_FILE.match(schema_file)
    assert match, f"{schema_file}: name it <event>.schema.json (version 1) or <event>.v<N>.schema.json"
    version = match["version"] or "1"
    assert _dataschema(registry.load_schema(schema_file)) == f"{registry.BASE_URI}{match['event']}/{version}"


def test_each_event_type_and_dataschema_version_has_exactly_one_schema() -> None:
    event_files = [name for name in SCHEMA_FILES if _dataschema(registry.load_schema(name))]
    versions = [
        (registry.load_schema(name)["properties"]["type"]["const"], _dataschema(registry.load_schema(name)))
        for name in event_files
    ]
    assert len(versions) == len(set(versions))
    assert set(versions) == set(registry.EVENT_VERSIONS)


# --- attribution headers (schemas/CHANGELOG.md): who made a change, beside the v1 body -----------------


def _asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "schemas" / "asyncapi.yaml").read_text(encoding="utf-8"))
    return document


def test_asyncapi_lists_the_attribution_headers_as_optional_strings() -> None:
    headers = _asyncapi()["components"]["schemas"]["CloudEventHeaders"]
    for attribute, header in registry.ATTRIBUTION_HEADERS.items():
        assert header == f"ce_{attribute}"
        assert headers["properties"][header]["type"] == "string", header
        assert header not in headers["required"], f"{header} must stay optional (older events lack it)"
    assert headers["properties"]["ce_actortype"]["enum"] == list(registry.ACTOR_TYPES)
    assert headers.get("additionalProperties", True) is not False, "consumers must tolerate unknown headers"
    description = _asyncapi()["info"]["description"]
    assert "**Attribution.**" in description
    assert all(f"`{header}`" in description for header in registry.ATTRIBUTION_HEADERS.values())


def test_every_cloudevents_header_is_ce_plus_a_valid_attribute_name() -> None:
    """CloudEvents attribute names are lowercase letters and digits (at most 20): `actortype`, not `actor_type`."""
    properties = _asyncapi()["components"]["schemas"]["CloudEventHeaders"]["properties"]
    names = [name.removeprefix("ce_") for name in properties if name.startswith("ce_")]
    assert set(registry.ATTRIBUTION_HEADERS) <= set(names)
    assert all(re.fullmatch(r"[a-z0-9]{1,20}", name) for name in names), names


def test_every_product_event_message_carries_the_cloudevents_headers() -> None:
    asyncapi = _asyncapi()
    for reference in asyncapi["channels"]["productEvents"]["messages"].values():
        message = asyncapi["components"]["messages"][reference["$ref"].rsplit("/", 1)[-1]]
        assert message["headers"] == {"$ref": "#/components/schemas/CloudEventHeaders"}, message["name"]


def test_the_actor_types_of_the_headers_are_those_of_the_rest_contract() -> None:
    openapi = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text(encoding="utf-8"))
    assert openapi["components"]["schemas"]["Actor"]["properties"]["type"]["enum"] == list(registry.ACTOR_TYPES)


def test_the_changelog_states_the_policy_and_names_every_attribution_header() -> None:
    changelog = (ROOT / "schemas" / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## Evolution policy" in changelog
    assert all(f"`{header}`" in changelog for header in registry.ATTRIBUTION_HEADERS.values())


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
        ("notice.v2.schema.json", "NoticeV2"),
        ("stock-transferred.schema.json", "StockTransferred"),
        ("location-low-stock-warning.schema.json", "LocationLowStockWarning"),
        ("product-updated.v2.schema.json", "ProductUpdatedV2"),
    ],
)
def test_generated_types_accept_the_schema_examples(schema_file: str, model_name: str) -> None:
    from schemas import types

    model = getattr(types, model_name)
    for example in registry.load_schema(schema_file)["examples"]:
        assert model.model_validate(example).model_dump(mode="json", by_alias=True) == example
