"""The raw-extract contract (raw_contract.yml) as Python objects: one place that ingest, generator and tests read."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

CONTRACT_PATH = Path(__file__).with_name("raw_contract.yml")

# Contract type -> DuckDB type used in the raw schema.
DUCKDB_TYPES = {
    "string": "varchar",
    "int": "bigint",
    "decimal": "decimal(18,2)",
    "rate": "decimal(18,8)",
    "date": "date",
    "timestamp": "timestamp",  # naive UTC: portable to Spark; the offset is checked on ingest
    "bool": "boolean",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    description: str = ""
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    references: str | None = None
    currency: bool = False
    free_text: bool = False
    future_ok: bool = False

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Entity:
    name: str
    description: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    required_file: bool = False
    checks: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Contract:
    version: int
    reporting_currency: str
    date_range: tuple[str, str]
    max_amount: float
    entities: tuple[Entity, ...]

    def entity(self, name: str) -> Entity:
        return next(e for e in self.entities if e.name == name)

    @property
    def entity_names(self) -> list[str]:
        return [e.name for e in self.entities]


@cache
def load_contract(path: Path = CONTRACT_PATH) -> Contract:
    """Parse the contract; entities come back in load order (a file only references files before it)."""
    raw = yaml.safe_load(path.read_text())
    entities = []
    for name, spec in raw["entities"].items():
        columns = tuple(
            Column(**{**col, "enum": tuple(col["enum"]) if "enum" in col else None}) for col in spec["columns"]
        )
        entities.append(
            Entity(
                name=name,
                description=spec["description"],
                primary_key=tuple(spec["primary_key"]),
                columns=columns,
                required_file=spec.get("required_file", False),
                checks=tuple(spec.get("checks", ())),
            )
        )
    return Contract(
        version=raw["version"],
        reporting_currency=raw["reporting_currency"],
        date_range=tuple(raw["date_range"]),
        max_amount=float(raw["max_amount"]),
        entities=tuple(entities),
    )
