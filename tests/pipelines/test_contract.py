"""The raw-extract contract (pipelines/raw_contract.yml): well formed, loadable in order, and what the generator
writes and the docs describe."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.contract import CONTRACT_PATH, DUCKDB_TYPES, load_contract

CONTRACT = load_contract()
ENTITIES = CONTRACT.entity_names
DOCS = Path(__file__).resolve().parents[2] / "docs" / "raw_contract.md"
COLUMN_KEYS = {"name", "type", "required", "description", "enum", "pattern", "min", "max", "references", "currency",
               "free_text", "future_ok"}
DOC_TYPES = {"string": "string", "int": "int", "decimal": "decimal(18,2)", "rate": "rate(18,8)", "date": "date",
             "timestamp": "timestamp", "bool": "bool"}


def test_yaml_parses_into_the_contract():
    raw = yaml.safe_load(CONTRACT_PATH.read_text())
    assert raw["version"] == CONTRACT.version == 1
    assert raw["reporting_currency"] == CONTRACT.reporting_currency == "USD"
    assert list(raw["entities"]) == ENTITIES  # load order is the file order
    assert len(ENTITIES) == len(set(ENTITIES)) == 15
    low, high = CONTRACT.date_range
    assert low < high
    assert CONTRACT.max_amount > 0


@pytest.mark.parametrize("entity", ENTITIES)
def test_entity_is_well_formed(entity):
    e = CONTRACT.entity(entity)
    raw = yaml.safe_load(CONTRACT_PATH.read_text())["entities"][entity]
    assert e.description
    assert len(e.column_names) == len(set(e.column_names)), "duplicate column"
    assert e.primary_key, "no primary key"
    for key in e.primary_key:
        assert key in e.column_names, f"primary key {key!r} is not a column"
        assert e.column(key).required, f"primary key {key!r} must be required"
    for spec in raw["columns"]:
        assert set(spec) <= COLUMN_KEYS, f"unknown keys {set(spec) - COLUMN_KEYS} on {spec['name']}"
    for column in e.columns:
        assert column.type in DUCKDB_TYPES, f"{column.name}: unknown type {column.type}"
        assert column.description, f"{column.name}: no description"
        if column.enum:
            assert len(set(column.enum)) == len(column.enum) and all(v == v.strip() for v in column.enum)
        if column.pattern:
            assert column.pattern.startswith("^") and column.pattern.endswith("$")
            re.compile(column.pattern)
        if column.min is not None and column.max is not None:
            assert column.min <= column.max
        if column.min is not None or column.max is not None:
            assert column.type in ("int", "decimal", "rate"), f"{column.name}: bounds on a {column.type}"
        if column.currency or column.free_text or column.enum or column.pattern:
            assert column.type == "string", f"{column.name}: text rule on a {column.type}"
        if column.future_ok:
            assert column.type in ("date", "timestamp")
    for check in e.checks:
        assert check in {"due_not_before_invoice", "card_fields_for_cards", "applications_within_payment",
                         "application_currency_matches"}, f"check {check!r} is not implemented in ingest"


def test_every_reference_points_at_an_earlier_entity_column():
    seen: dict[str, set[str]] = {}
    for entity in CONTRACT.entities:
        for column in entity.columns:
            if column.references:
                parent, key = column.references.split(".")
                assert parent in seen, f"{entity.name}.{column.name} references {parent}, which loads later"
                assert key in seen[parent], f"{entity.name}.{column.name} references a missing column {key}"
                assert CONTRACT.entity(parent).primary_key == (key,), f"{column.references} is not a primary key"
                assert CONTRACT.entity(parent).column(key).type == column.type
        seen[entity.name] = set(entity.column_names)


def test_required_files():
    required = {e.name for e in CONTRACT.entities if e.required_file}
    assert required >= {"accounts", "invoices", "payments", "payment_applications"}
    # fx_rates is optional: a USD-only load needs none.
    assert not CONTRACT.entity("fx_rates").required_file


def test_every_currency_column_can_be_resolved():
    """Currency checks look in fx_rates, so fx_rates must load before every entity with a currency column."""
    assert ENTITIES[0] == "fx_rates"
    assert any(c.currency for e in CONTRACT.entities for c in e.columns)


@pytest.mark.parametrize("entity", ENTITIES)
def test_generator_writes_exactly_the_contract_columns_in_order(small_book, small_book_parquet, entity):
    with (small_book / f"{entity}.csv").open(encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split(",")
    assert header == CONTRACT.entity(entity).column_names
    assert pq.read_schema(small_book_parquet / f"{entity}.parquet").names == CONTRACT.entity(entity).column_names


def test_generator_writes_one_file_per_entity_and_nothing_else(small_book):
    files = {p.name for p in small_book.iterdir() if p.is_file()}
    assert files == {f"{e}.csv" for e in ENTITIES} | {"manifest.json"}
    manifest = json.loads((small_book / "manifest.json").read_text())
    assert manifest["extracted_at"].endswith("Z")


def _documented_tables() -> dict[str, list[tuple[str, str, str]]]:
    """Section 3 of docs/raw_contract.md: entity -> [(column, type, required)] in the order documented."""
    text = DOCS.read_text()
    section = text.split("## 3. Entities", 1)[1].split("\n## 4.", 1)[0]
    tables = {}
    for block in section.split("\n### ")[1:]:
        name = block.split("\n", 1)[0].strip()
        rows = re.findall(r"^\| `([a-z0-9_]+)`(?: \(PK\))? \| ([a-z0-9(),]+) \| (yes|no) \|", block, re.M)
        tables[name] = rows
    return tables


def test_docs_describe_every_entity_and_column_in_contract_order():
    documented = _documented_tables()
    assert list(documented) == ENTITIES
    for entity in CONTRACT.entities:
        expected = [(c.name, DOC_TYPES[c.type], "yes" if c.required else "no") for c in entity.columns]
        assert documented[entity.name] == expected, f"docs/raw_contract.md section 3 is out of date for {entity.name}"
