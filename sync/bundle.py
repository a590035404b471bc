"""Schema bundles: county IT's changes to the schema, from version N to N+1, as data.

A bundle is a JSON object (docs/SCHEMA.md, examples in `examples/bundles/`):

    {"format": 1, "version": N+1, "name": "...", "summary_zh": "...", "summary_en": "...",
     "operations": [{"op": "add_field", ...}, ...]}

This module is pure: it parses a bundle, checks every operation against the schema it is
meant to follow, and says what the operations mean for data (the renames that upcast changes
captured under older versions). Applying a bundle to the definition tables is
`sync.schema_apply`; signing and checking the county's signature is `sign_bundle` /
`verify_bundle` here, over the bundle's exact bytes.

A published bundle also carries `"dictionary"`: the zstd dictionary of the version it makes
(base64, sync/dictionary.py), trained by the hub when it publishes (`with_dictionary`) and so
covered by the county's signature like every other byte. A bundle without one (published
before dictionaries) is still a bundle: bodies under that version go without a dictionary.

Refused by design: anything that drops data (removing an entity, a field or a code value) and
changing a field's type (no type upcasts are defined yet: add a new field and deprecate the old
one). Every refusal names the operation (`operations[2]`) and the rule.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from cryptography.exceptions import InvalidSignature

from sync import dictionary as zdict
from sync.crypto_suite import (
    GM_SUITE,
    INTL_SUITE,
    SM2_PREFIX,
    SigningKey,
    VerifyKey,
    mismatch_words,
    suite_of_key,
)
from sync.errors import SchemaError, TownshipError, ValidationError
from sync.schema import FIELD_TYPES, AttachmentRule, CodeTable, CodeValue, EntityDef, FieldDef, Schema

FORMAT = 1
MAX_BUNDLE_BYTES = 1024 * 1024
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_CODE = re.compile(r"[0-9A-Za-z_.-]{1,32}")
# Operations that would lose data, and why each is refused.
_REFUSED = {
    "drop_entity": ("删除实体会丢失数据", "dropping an entity would lose data"),
    "drop_field": ("删除字段会丢失数据；请改用 deprecate_field", "dropping a field would lose data;"
                   " use deprecate_field"),
    "remove_code_values": ("删除代码值会使旧数据失效；请改用新值并更改标签",
                           "removing code values would orphan data; add new ones instead"),
    "change_type": ("不能直接更改字段类型：请新增字段并停用旧字段",
                    "a field's type cannot change (no type upcast is defined): add a new field"
                    " and deprecate the old one"),
}
_FIELD_KEYS = {"name", "type", "label_zh", "label_en", "help_zh", "help_en", "required", "sensitive",
               "indexed", "rule", "code_table", "ref_entity", "max_length", "min_value", "max_value",
               "default"}
_LABEL_KEYS = ("label_zh", "label_en", "help_zh", "help_en")
# Defaults are checked for their type and rules; only birth dates depend on the day, and a
# default is never one.
_EPOCH_TODAY = date(2000, 1, 1)


@dataclass(frozen=True)
class Rename:
    version: int  # the bundle version that renamed it
    entity: str
    old: str
    new: str


@dataclass(frozen=True)
class Bundle:
    version: int
    name: str
    summary_zh: str
    summary_en: str
    operations: tuple[dict[str, Any], ...]
    raw: bytes  # the exact bytes the county signed
    dictionary: bytes | None = None  # the version's zstd dictionary (None: published without)

    @property
    def renames(self) -> tuple[Rename, ...]:
        return tuple(Rename(self.version, op["entity"], op["from"], op["to"])
                     for op in self.operations if op["op"] == "rename_field")


class BundleError(SchemaError):
    """A bundle that cannot be applied; the message names the operation and the rule."""

    def __init__(self, where: str, zh: str, en: str) -> None:
        super().__init__(f"{where}：{zh}", f"{where}: {en}")
        self.where = where


def parse_bundle(raw: bytes) -> Bundle:
    """A bundle's shape checked (not yet against a schema: see `check_bundle`)."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise BundleError("bundle", "文件过大", f"larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError("bundle", "不是有效的 JSON", f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BundleError("bundle", "应为 JSON 对象", "must be a JSON object")
    if data.get("format") != FORMAT:
        raise BundleError("format", f"应为 {FORMAT}", f"must be {FORMAT}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 2:
        raise BundleError("version", "应为不小于 2 的整数", "must be a whole number of at least 2")
    for key in ("name", "summary_zh", "summary_en"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise BundleError(key, "必填文本", "is required text")
    ops = data.get("operations")
    if not isinstance(ops, list) or not ops:
        raise BundleError("operations", "应为非空列表", "must be a non-empty list")
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise BundleError(f"operations[{i}]", "应为带 op 的对象", "must be an object with an op")
    return Bundle(version, data["name"], data["summary_zh"], data["summary_en"], tuple(ops), raw,
                  _dictionary(data))


def _dictionary(data: dict[str, Any]) -> bytes | None:
    if "dictionary" not in data:
        return None
    text = data["dictionary"]
    try:
        raw = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
        zdict.dictionary_id(raw)
    except (ValueError, ValidationError) as exc:
        raise BundleError("dictionary", "应为 base64 编码的 zstd 字典",
                          f"must be a zstd dictionary in base64 ({exc})") from None
    return raw


def with_dictionary(bundle: Bundle, after: Schema) -> Bundle:
    """The bundle as the hub publishes it: its text as county IT wrote it, with the member
    `"dictionary"` added at its end, trained for `after`, the schema it makes (county IT's
    tooling: `county schema push` and the dashboard's publish)."""
    if bundle.dictionary is not None:
        raise BundleError("dictionary", "字典由县级平台发布时生成：请从文件中删去 dictionary",
                          "the dictionary is trained by the hub as it publishes: remove it from the file")
    text = bundle.raw.decode("utf-8").rstrip()
    trained = base64.b64encode(zdict.train(after)).decode("ascii")
    # The text ends with the object's closing brace (parse_bundle read it as an object with
    # operations): the member goes before it, and every byte before stays as written.
    raw = f'{text[:-1].rstrip()},\n  "dictionary": "{trained}"\n}}\n'.encode()
    return parse_bundle(raw)


def check_bundle(bundle: Bundle, schema: Schema) -> Schema:
    """Check every operation against `schema` (version N) in order; the schema after it
    (version N+1). Raises BundleError naming the first bad operation."""
    if bundle.version != schema.version + 1:
        raise BundleError("version", f"应紧接当前版本 {schema.version}（应为 {schema.version + 1}）",
                          f"must follow the current version {schema.version}"
                          f" (expected {schema.version + 1}, got {bundle.version})")
    for i, op in enumerate(bundle.operations):
        schema = _apply_op(schema, op, f"operations[{i}] {op['op']}", bundle.version)
    return replace(schema, version=bundle.version)


def upcast_fields(entity: str, values: Mapping[str, Any], since: int,
                  renames: Iterable[Rename]) -> dict[str, Any]:
    """Field names written under schema version `since`, as the current schema names them."""
    out = dict(values)
    for r in sorted(renames, key=lambda r: r.version):
        if r.version > since and r.entity == entity and r.old in out:
            out[r.new] = out.pop(r.old)
    return out


# ------------------------------------------------------------------ signatures


def sign_bundle(key: SigningKey, raw: bytes) -> str:
    """The county's signature of a bundle's exact bytes; under GM (SM2) it starts `sm2:`, so
    a station of the other suite refuses it by name (an intl one is as it always was)."""
    text = base64.b64encode(key.sign(b"TSbundle1\n" + raw)).decode()
    return text if suite_of_key(key) is INTL_SUITE else SM2_PREFIX + text


def verify_bundle(public: VerifyKey, raw: bytes, signature: str) -> None:
    ours = suite_of_key(public)
    theirs = GM_SUITE if signature.startswith(SM2_PREFIX) else INTL_SUITE
    if theirs is not ours:
        zh, en = mismatch_words(ours, theirs, "bundle")
        raise BundleError("signature", zh, en)
    if ours is GM_SUITE:
        signature = signature[len(SM2_PREFIX):]
    try:
        public.verify(base64.b64decode(signature, validate=True), b"TSbundle1\n" + raw)
    except (InvalidSignature, ValueError):
        raise BundleError("signature", "县级签名无效：数据包被改动或不是本县发布",
                          "the county signature does not match: altered, or not from this county"
                          ) from None


# ------------------------------------------------------------------ operations


def _apply_op(schema: Schema, op: dict[str, Any], where: str, version: int) -> Schema:
    kind = op["op"]
    if kind in _REFUSED:
        zh, en = _REFUSED[kind]
        raise BundleError(where, zh, en)
    handler = _OPS.get(kind)
    if handler is None:
        raise BundleError(where, "未知的操作", f"unknown operation (known: {', '.join(sorted(_OPS))})")
    return handler(schema, op, where, version)


def _entity(schema: Schema, op: dict[str, Any], where: str) -> EntityDef:
    name = op.get("entity")
    if not isinstance(name, str) or name not in schema.entities:
        raise BundleError(where, f"没有实体 {name!r}", f"no entity {name!r}")
    return schema.entities[name]


def _field(entity: EntityDef, name: Any, where: str) -> FieldDef:
    if not isinstance(name, str) or name not in entity.by_name:
        raise BundleError(where, f"“{entity.label_zh}”没有字段 {name!r}",
                          f"{entity.name} has no field {name!r}")
    return entity.by_name[name]


def _with_entity(schema: Schema, entity: EntityDef) -> Schema:
    return replace(schema, entities={**schema.entities, entity.name: entity})


def _new_field(schema: Schema, entity: str, spec: Any, where: str, version: int,
               position: int) -> FieldDef:
    if not isinstance(spec, dict):
        raise BundleError(where, "字段定义应为对象", "a field definition must be an object")
    unknown = sorted(set(spec) - _FIELD_KEYS)
    if unknown:
        raise BundleError(where, f"字段定义有未知的键 {unknown[0]}", f"unknown key {unknown[0]!r}")
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BundleError(where, "字段名应为小写英文、数字和下划线",
                          "field name must be lower-case a-z, 0-9, _")
    if spec.get("type") not in FIELD_TYPES:
        raise BundleError(where, f"字段 {name} 的类型未知", f"field {name} needs a type of"
                          f" {', '.join(sorted(FIELD_TYPES))}")
    for key in ("label_zh", "label_en"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise BundleError(where, f"字段 {name} 缺少 {key}", f"field {name} needs {key}")
    if spec["type"] in ("code", "codes") and spec.get("code_table") not in schema.code_tables:
        raise BundleError(where, f"字段 {name} 的代码表不存在", f"field {name} names no known code_table")
    if spec["type"] in ("ref", "refs") and spec.get("ref_entity") not in schema.entities:
        raise BundleError(where, f"字段 {name} 引用的实体不存在", f"field {name} names no known ref_entity")
    flags = {k: spec.get(k, False) for k in ("required", "sensitive", "indexed")}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise BundleError(where, "required/sensitive/indexed 应为 true 或 false",
                          "required, sensitive and indexed are true or false")
    if flags["indexed"] and not flags["sensitive"]:
        raise BundleError(where, "只有敏感字段建盲索引", "only sensitive fields are indexed")
    f = FieldDef(entity=entity, name=name, type=spec["type"], label_zh=spec["label_zh"],
                 label_en=spec["label_en"], position=position, help_zh=spec.get("help_zh"),
                 help_en=spec.get("help_en"), required=flags["required"],
                 sensitive=flags["sensitive"], indexed=flags["indexed"], rule=spec.get("rule"),
                 code_table=spec.get("code_table"), ref_entity=spec.get("ref_entity"),
                 max_length=spec.get("max_length"), min_value=spec.get("min_value"),
                 max_value=spec.get("max_value"), default=spec.get("default"),
                 since_version=version)
    if f.default is not None:
        from sync.validate import validate_value  # validation builds on the schema module

        try:
            validate_value(f, f.default, schema, today=_EPOCH_TODAY)
        except TownshipError as exc:
            raise BundleError(where, f"默认值无效：{exc.zh}", f"the default is invalid: {exc.en}") from None
    return f


def _add_entity(schema: Schema, op: dict[str, Any], where: str, version: int) -> Schema:
    spec = op.get("entity")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) \
            or not _NAME.fullmatch(spec["name"]):
        raise BundleError(where, "entity 应为带 name 的对象", "entity must be an object with a name")
    if spec["name"] in schema.entities:
        raise BundleError(where, f"实体 {spec['name']} 已存在", f"entity {spec['name']} already exists")
    for key in ("label_zh", "label_en"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise BundleError(where, f"实体缺少 {key}", f"the entity needs {key}")
    specs = op.get("fields")
    if not isinstance(specs, list) or not specs:
        raise BundleError(where, "fields 应为非空列表", "fields must be a non-empty list")
    fields = [_new_field(schema, spec["name"], s, f"{where} fields[{i}]", version, i + 1)
              for i, s in enumerate(specs)]
    if len({f.name for f in fields}) != len(fields):
        raise BundleError(where, "字段名重复", "a field name is repeated")
    names = {f.name for f in fields}
    for key in ("scope_field", "title_field", "parent_field"):
        if spec.get(key) is not None and spec[key] not in names:
            raise BundleError(where, f"{key} 不是该实体的字段", f"{key} is not one of its fields")
    entity = EntityDef(spec["name"], spec["label_zh"], spec["label_en"], tuple(fields),
                       module=spec.get("module"), scope_field=spec.get("scope_field"),
                       title_field=spec.get("title_field"), parent_field=spec.get("parent_field"),
                       position=max((e.position for e in schema.entities.values()), default=0) + 1)
    return _with_entity(schema, entity)


def _add_field(schema: Schema, op: dict[str, Any], where: str, version: int) -> Schema:
    entity = _entity(schema, op, where)
    spec = op.get("field")
    if isinstance(spec, dict) and spec.get("name") in entity.by_name:
        raise BundleError(where, f"字段 {spec['name']} 已存在", f"field {spec['name']} already exists")
    position = max((f.position for f in entity.fields), default=0) + 1
    f = _new_field(schema, entity.name, spec, where, version, position)
    return _with_entity(schema, replace(entity, fields=(*entity.fields, f)))


def _add_code_table(schema: Schema, op: dict[str, Any], where: str, version: int) -> Schema:
    spec = op.get("code_table")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) \
            or not _NAME.fullmatch(spec["name"]):
        raise BundleError(where, "code_table 应为带 name 的对象", "code_table must be an object with a name")
    if spec["name"] in schema.code_tables:
        raise BundleError(where, f"代码表 {spec['name']} 已存在", f"code table {spec['name']} already exists")
    for key in ("label_zh", "label_en"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise BundleError(where, f"代码表缺少 {key}", f"the code table needs {key}")
    table = CodeTable(spec["name"], spec["label_zh"], spec["label_en"],
                      _code_values(op.get("values"), set(), where))
    return replace(schema, code_tables={**schema.code_tables, table.name: table})


def _add_code_values(schema: Schema, op: dict[str, Any], where: str, version: int) -> Schema:
    name = op.get("code_table")
    if not isinstance(name, str) or name not in schema.code_tables:
        raise BundleError(where, f"没有代码表 {name!r}", f"no code table {name!r}")
    table = schema.code_tables[name]
    added = _code_values(op.get("values"), set(table.by_code), where)
    table = CodeTable(table.name, table.label_zh, table.label_en, (*table.values, *added))
    return replace(schema, code_tables={**schema.code_tables, name: table})


def _code_values(specs: Any, taken: set[str], where: str) -> tuple[CodeValue, ...]:
    if not isinstance(specs, list) or not specs:
        raise BundleError(where, "values 应为非空列表", "values must be a non-empty list")
    out = []
    for i, v in enumerate(specs):
        ok = isinstance(v, dict) and isinstance(v.get("code"), str) and _CODE.fullmatch(v["code"]) \
            and all(isinstance(v.get(k), str) and v[k].strip() for k in ("label_zh", "label_en"))
        if not ok:
            raise BundleError(f"{where} values[{i}]", "代码值需要 code、label_zh、label_en",
                              "a code value needs code, label_zh and label_en")
        if v["code"] in taken:
            raise BundleError(f"{where} values[{i}]", f"代码 {v['code']} 已存在",
                              f"code {v['code']} already exists")
        taken.add(v["code"])
        out.append(CodeValue(v["code"], v["label_zh"], v["label_en"], v.get("parent")))
    return tuple(out)


def _set_labels(schema: Schema, op: dict[str, Any], where: str, version: int) -> Schema:
    labels = {k: op[k] for k in _LABEL_KEYS if k in op}
    if not labels or not all(isinstance(v, str) and v.strip() for v in labels.values()):
        raise BundleError(where, "请给出要改的标签或说明（非空文本）",
                          "give at least one of label_zh, label_en, help_zh, help_en as text")
    if "code_table" in op:
        table = schema.code_tables.get(op["code_table"])
        if table is None or op.get("code") not in table.by_code:
            raise BundleError(where, "没有这个代码值", "no such code value")
        if set(labels) - {"label_zh", "label_en"}:
            raise BundleError(where, "代码值只有标签", "a code value has labels only")
        values = tuple(replace(v, **labels) if v.code == op["code"] else v for v in table.values)
        return replace(schema, code_tables={**schema.code_tables, table.name: replace(table, values=values)})
    entity = _entity(schema, op, where)
    if "field" not in op:
        if set(labels) - {"label_zh", "label_en"}:
            raise BundleError(where, "实体只有标签", "an entity has labels only")
        return _with_entity(schema, replace(entity, **labels))
    f = _field(entity, op["field"], where)
    fields = tuple(replace(x, **labels) if x.name == f.name else x for x in entity.fields)
    return _with_entity(schema, replace(entity, fields=fields))


def _deprecate_field(schema: Schema, op: dict[str, Any], where: str, version: int) -> Schema:
    entity = _entity(schema, op, where)
    f = _field(entity, op.get("field"), where)
    if f.name in (entity.scope_field, entity.title_field, entity.parent_field):
        raise BundleError(where, "范围、标题和上级字段不能停用",
                          "the scope, title and parent fields cannot be deprecated")
    fields = tuple(replace(x, deprecated=True, required=False) if x.name == f.name else x
                   for x in entity.fields)
    return _with_entity(schema, replace(entity, fields=fields))


def _rename_field(schema: Schema, op: dict[str, Any], where: str, version: int) -> Schema:
    entity = _entity(schema, op, where)
    f = _field(entity, op.get("from"), where)
    new = op.get("to")
    if not isinstance(new, str) or not _NAME.fullmatch(new):
        raise BundleError(where, "新字段名应为小写英文、数字和下划线", "to must be lower-case a-z, 0-9, _")
    if new in entity.by_name:
        raise BundleError(where, f"字段 {new} 已存在", f"field {new} already exists")
    if (f.rule and ":" in f.rule) or any((x.rule or "").endswith(f":{f.name}") for x in entity.fields):
        raise BundleError(where, "由身份证号推导的字段不能改名",
                          "fields tied by a derivation rule cannot be renamed")
    if f.name in (entity.scope_field, entity.parent_field):
        raise BundleError(where, "范围字段和上级字段不能改名（同步依赖它们）",
                          "the scope and parent fields cannot be renamed (sync routes by them)")
    fields = tuple(replace(x, name=new) if x.name == f.name else x for x in entity.fields)
    title = new if entity.title_field == f.name else entity.title_field
    return _with_entity(schema, replace(entity, fields=fields, title_field=title))


def _set_attachments(schema: Schema, op: dict[str, Any], where: str, version: int) -> Schema:
    """Let an entity's records carry files, or change how large and of which types."""
    from sync.attachments import KNOWN_TYPES, MAX_FILE_BYTES

    entity = _entity(schema, op, where)
    if entity.name == "attachment":
        raise BundleError(where, "附件本身不能再带附件", "an attachment cannot carry attachments")
    limit = op.get("max_bytes")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_FILE_BYTES:
        raise BundleError(where, f"max_bytes 应为 1 到 {MAX_FILE_BYTES} 的整数",
                          f"max_bytes must be a whole number from 1 to {MAX_FILE_BYTES}")
    types = op.get("types")
    if not isinstance(types, list) or not types or not all(t in KNOWN_TYPES for t in types):
        raise BundleError(where, f"types 应为非空列表，取值：{'、'.join(KNOWN_TYPES)}",
                          f"types must be a non-empty list of {', '.join(KNOWN_TYPES)}")
    rule = AttachmentRule(entity.name, limit, tuple(dict.fromkeys(types)))
    return replace(schema, attachments={**schema.attachments, entity.name: rule})


_OPS = {
    "set_attachments": _set_attachments,
    "add_entity": _add_entity,
    "add_field": _add_field,
    "add_code_table": _add_code_table,
    "add_code_values": _add_code_values,
    "set_labels": _set_labels,
    "deprecate_field": _deprecate_field,
    "rename_field": _rename_field,
}
