"""Decode Confluent-framed Avro values into the topic's typed columns, then validate like JSON.

Wire format: magic byte 0, a 4-byte big-endian schema id, the Avro body. Each schema id is
fetched once per run from the registry (the client caches it) and compiled once into a read
plan: the fastavro-parsed writer schema (logical types stripped, so timestamp-millis reads as
its long) and whether each configured field can be read from it. The bodies are decoded by
fastavro's compiled reader, the rows become Arrow columns in one conversion, and the same
validation query as JSON (validate.sql) checks them.

Schema evolution: the raw columns come from the topic config, so a configured field that an
older writer schema lacks reads as null (or quarantines as missing_field when required), and a
field added later appears as soon as records carry it. A writer type the configured type cannot
be read from quarantines every record of that schema id as incompatible_schema:<field>.

Quarantine reasons beside the shared ones: json_not_avro, wrong_magic_byte, truncated_value,
unknown_schema_id (detail: the id), incompatible_schema (detail: the field, or the id),
schema_mismatch (detail: what went wrong), and wrong_type for a json field whose Avro string is
not JSON text (Avro has no "any" type, so json fields travel as a string of JSON text, or as
any Avro type, kept as its JSON rendering).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fastavro import parse_schema, schemaless_reader
from fastavro.schema import SchemaParseException, UnknownType

from aggregator_assets.config import TopicConfig
from aggregator_assets.config.models import FieldSpec
from aggregator_assets.ingest.avro_columns import flat_layout, read_flat
from aggregator_assets.ingest.decode import (
    _HERE,
    MAX_VALUE_BYTES,
    DecodedBatch,
    SqlDecoder,
    quote,
)
from aggregator_assets.ingest.registry_client import SchemaRegistryClient
from aggregator_assets.ingest.schema import ARROW_TYPES

MAGIC = 0
HEADER_BYTES = 5
FORMAT_PROBLEM = "__format_problem"

# Avro types (non-null union branches) each configured field type can be read from.
READABLE = {
    "float": {"int", "long", "float", "double"},
    "int": {"int", "long"},
    "string": {"string", "enum"},
    "bool": {"boolean"},
}


@dataclass(frozen=True)
class ReadPlan:
    """How to read records written with one schema id; `problem` quarantines all of them."""

    schema: dict | None = None
    problem: str | None = None
    missing: tuple[str, ...] = ()  # configured fields this writer schema does not have
    dump_json: tuple[str, ...] = ()  # json fields written as a non-string Avro type
    layout: list | None = None  # set when the vectorised reader (avro_columns) can read it


def _strip_logical_types(schema):
    if isinstance(schema, dict):
        return {k: _strip_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_strip_logical_types(s) for s in schema]
    return schema


def _named_types(schema, found: dict[str, str]) -> dict[str, str]:
    """Full and short names of named types (record, enum, fixed) -> their Avro kind."""
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, found)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed") and "name" in schema:
            name = schema["name"]
            namespace = schema.get("namespace")
            found[name.rsplit(".", 1)[-1]] = kind
            found[f"{namespace}.{name}" if namespace and "." not in name else name] = kind
        for child in (
            *(f.get("type") for f in schema.get("fields", [])),
            schema.get("items"),
            schema.get("values"),
            kind if isinstance(kind, dict | list) else None,
        ):
            _named_types(child, found)
    return found


def _kinds(field_type, named: dict[str, str]) -> set[str]:
    """The non-null Avro kinds a field's value can have."""
    branches = field_type if isinstance(field_type, list) else [field_type]
    kinds = set()
    for branch in branches:
        while isinstance(branch, dict):
            branch = branch["type"]
        if isinstance(branch, list):
            kinds |= _kinds(branch, named)
        else:
            kinds.add(named.get(branch, branch))
    return kinds - {"null"}


def read_plan(topic: TopicConfig, schema_id: int, writer: dict | list | str | None) -> ReadPlan:
    """Compile what records of `schema_id` need, or the problem that quarantines them all."""
    if writer is None:
        return ReadPlan(problem=f"unknown_schema_id:{schema_id}")
    if not isinstance(writer, dict) or writer.get("type") != "record":
        return ReadPlan(problem=f"incompatible_schema:{schema_id}")
    try:
        parsed = parse_schema(_strip_logical_types(writer))
    except (SchemaParseException, UnknownType, KeyError, TypeError, ValueError):
        return ReadPlan(problem=f"incompatible_schema:{schema_id}")
    named = _named_types(writer, {})
    written = {f["name"]: _kinds(f["type"], named) for f in writer.get("fields", [])}
    missing, dump_json = [], []
    for name, spec in topic.fields.items():
        if name not in written:
            if spec.required:
                return ReadPlan(problem=f"missing_field:{name}")
            missing.append(name)
        elif spec.type == "json":
            if written[name] - {"string"}:
                dump_json.append(name)
        elif not written[name] or written[name] - READABLE[spec.type]:
            return ReadPlan(problem=f"incompatible_schema:{name}")
    layout = None if dump_json else flat_layout(writer)
    return ReadPlan(parsed, None, tuple(missing), tuple(dump_json), layout)


def _column(name: str, topic: TopicConfig) -> str:
    """The decoded column of a field, named apart from the records' own columns (key, value)."""
    return f"__field_{list(topic.fields).index(name)}"


def _json_text(value) -> str:
    return json.dumps(value, separators=(",", ":"), default=lambda b: bytes(b).hex())


class AvroDecoder(SqlDecoder):
    """Avro values in the Confluent wire format, schemas from a Schema Registry."""

    front_sql = (_HERE / "decode_avro.sql").read_text()
    format_checks = (f"WHEN {FORMAT_PROBLEM} IS NOT NULL THEN {FORMAT_PROBLEM}",)

    def __init__(
        self,
        topic: TopicConfig,
        partitions_start: datetime,
        registry: SchemaRegistryClient,
        max_value_bytes: int = MAX_VALUE_BYTES,
    ):
        registry.check()
        self.registry = registry
        self.max_value_bytes = max_value_bytes
        self.plans: dict[int, ReadPlan] = {}
        self.wanted = {n: ARROW_TYPES[f.type] for n, f in topic.fields.items()}
        self.row_type = pa.struct(list(self.wanted.items()))
        super().__init__(topic, partitions_start, max_value_bytes)

    def field_column(self, name: str, spec: FieldSpec) -> str:
        return f"{quote(_column(name, self.topic))} AS {quote(name)}"

    def type_checks(self, i: int, name: str, spec: FieldSpec) -> list[str]:
        q = quote(name)
        checks = [f"WHEN {q} IS NULL THEN 'null_field:{name}'"] if spec.required else []
        if spec.type == "json":
            checks.append(f"WHEN {q} IS NOT NULL AND NOT json_valid({q}) THEN 'wrong_type:{name}'")
        return checks

    def plan(self, schema_id: int) -> ReadPlan:
        if schema_id not in self.plans:
            writer = self.registry.schema(schema_id)
            self.plans[schema_id] = read_plan(self.topic, schema_id, writer)
        return self.plans[schema_id]

    def decode(self, records: pa.Table) -> DecodedBatch:
        """Decode a RECORDS_SCHEMA table; the output keeps the input's offset order."""
        values = records["value"].combine_chunks()
        n = len(values)
        offsets = np.frombuffer(values.buffers()[1], np.int32)[
            values.offset : values.offset + n + 1
        ]
        body = values.buffers()[2]
        data = np.concatenate(
            [
                np.frombuffer(body, np.uint8) if body else np.zeros(0, np.uint8),
                np.zeros(16, np.uint8),
            ]
        )
        starts, ends = offsets[:-1].astype(np.int64), offsets[1:].astype(np.int64)
        length = ends - starts
        present = values.is_valid().to_numpy(zero_copy_only=False)
        checked = present & (length > 0) & (length <= self.max_value_bytes)
        first = data[starts]
        problems = np.full(n, None, dtype=object)
        problems[checked & (first != MAGIC)] = "wrong_magic_byte"
        problems[checked & ((first == ord("{")) | (first == ord("[")))] = "json_not_avro"
        framed = checked & (first == MAGIC)
        problems[framed & (length < HEADER_BYTES)] = "truncated_value"
        framed &= length >= HEADER_BYTES
        ids = (
            data[starts[:, None] + np.arange(1, HEADER_BYTES)].astype(np.int64) << [24, 16, 8, 0]
        ).sum(1)
        pieces: list[tuple[np.ndarray, pa.Table]] = []
        framed_ids = ids[framed]
        if len(framed_ids) and (framed_ids == framed_ids[0]).all():
            schema_ids = [int(framed_ids[0])]  # the usual batch: one writer schema
        else:
            schema_ids = sorted(set(framed_ids.tolist()))
        for schema_id in schema_ids:
            ix = np.flatnonzero(framed & (ids == schema_id))
            plan = self.plan(schema_id)
            if plan.problem:
                problems[ix] = plan.problem
            elif plan.layout is not None:
                columns, truncated, mismatch = read_flat(
                    data, starts[ix] + HEADER_BYTES, ends[ix], plan.layout, self.wanted
                )
                problems[ix[truncated]] = "truncated_value"
                problems[ix[mismatch]] = "schema_mismatch:body"
                pieces.append((ix, self._table(columns, len(ix))))
            else:
                pieces.append((ix, self._read(plan, ix, values, problems)))
        uncovered = np.ones(n, bool)
        for ix, _ in pieces:
            uncovered[ix] = False
        rest = np.flatnonzero(uncovered)
        pieces.append((rest, self._table({}, len(rest))))
        order = np.concatenate([ix for ix, _ in pieces])
        fields = pa.concat_tables([t for _, t in pieces]).take(np.argsort(order, kind="stable"))
        unreadable = pa.array(problems != None)  # noqa: E711 (element-wise)
        table = records.append_column(FORMAT_PROBLEM, pa.array(problems.tolist(), pa.string()))
        for name in self.wanted:
            column = pc.if_else(unreadable, pa.scalar(None, self.wanted[name]), fields[name])
            table = table.append_column(_column(name, self.topic), column)
        return self.run(table)

    def _table(self, columns: dict[str, pa.Array], n: int) -> pa.Table:
        return pa.table(
            {name: columns.get(name, pa.nulls(n, t)) for name, t in self.wanted.items()}
        )

    def _read(self, plan: ReadPlan, ix: np.ndarray, values: pa.Array, problems) -> pa.Table:
        """fastavro, one body at a time: for schemas the vectorised reader does not cover."""
        rows: list[dict | None] = []
        schema, dump_json = plan.schema, plan.dump_json
        for i in ix.tolist():
            value = values[i].as_py()
            body = BytesIO(value)
            body.seek(HEADER_BYTES)
            row = None
            try:
                row = schemaless_reader(body, schema, None)
            except EOFError:
                problems[i] = "truncated_value"
            except Exception as exc:  # any unreadable body is this record's quarantine reason
                problems[i] = f"schema_mismatch:{type(exc).__name__}"
            if row is not None and body.tell() != len(value):
                problems[i], row = "schema_mismatch:trailing_bytes", None
            if row is not None:
                for name in dump_json:
                    if row.get(name) is not None:
                        row[name] = _json_text(row[name])
            rows.append(row)
        columns = pa.array(rows, type=self.row_type).flatten()
        return pa.Table.from_arrays(columns, names=self.row_type.names)
