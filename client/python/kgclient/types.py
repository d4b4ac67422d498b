"""Keys, entities, edges and hops from plain Python values, and back to text.

Every helper of `KgClient` accepts either the protobuf message or these short forms:
a key as ``"PRODUCT:1"`` (TYPE:ID, any case), a ``(type, id)`` pair or an ``EntityKey``;
edge types and directions by name (``"PURCHASED"``, ``"in"``) or enum number.
"""
from typing import Mapping, Optional, Tuple, Union

from google.protobuf import json_format

from kgclient_proto.kg.v1 import graph_pb2, knowledge_pb2, types_pb2

EntityKey = types_pb2.EntityKey
Entity = types_pb2.Entity
Edge = types_pb2.Edge
EdgeKey = types_pb2.EdgeKey
ImportRecord = types_pb2.ImportRecord
Hop = graph_pb2.Hop
KnowledgeItem = knowledge_pb2.KnowledgeItem
ProductText = knowledge_pb2.ProductText

KeyLike = Union[str, Tuple[Union[str, int], int], EntityKey]
EnumLike = Union[str, int]


# Enum name -> number, as written and upper-cased (a key conversion is on every call's path).
_NUMBERS = {}


def _numbers(enum_type) -> dict:
    numbers = _NUMBERS.get(enum_type.DESCRIPTOR.full_name)
    if numbers is None:
        numbers = {name: number for name, number in enum_type.items()}
        numbers.update({name.lower(): number for name, number in enum_type.items()})
        _NUMBERS[enum_type.DESCRIPTOR.full_name] = numbers
    return numbers


def _enum(enum_type, value: EnumLike, field: str) -> int:
    numbers = _numbers(enum_type)
    if isinstance(value, str):
        number = numbers.get(value)
        if number is None:
            number = numbers.get(value.strip().upper())
        if number is None:
            names = ", ".join(n for n in enum_type.keys() if not n.endswith("_UNSPECIFIED"))
            raise ValueError(f"{field}: unknown {enum_type.DESCRIPTOR.name} {value!r} "
                             f"(one of {names})")
        return number
    if isinstance(value, int) and not isinstance(value, bool):
        if value not in enum_type.values():
            raise ValueError(f"{field}: {value} is not a {enum_type.DESCRIPTOR.name} number")
        return value
    raise TypeError(f"{field}: expected a name or a number, got {type(value).__name__}")


# EntityType's entry of _NUMBERS, for key()'s fast path.
_ENTITY_TYPES = _numbers(types_pb2.EntityType)


def entity_type(value: EnumLike, field: str = "type") -> int:
    """An EntityType from its name ("product") or number."""
    return _enum(types_pb2.EntityType, value, field)


def edge_type(value: EnumLike, field: str = "edge_type") -> int:
    """An EdgeType from its name ("purchased") or number."""
    return _enum(types_pb2.EdgeType, value, field)


def direction(value: EnumLike, field: str = "direction") -> int:
    """A Direction: "out" (edges leaving the key) or "in" (edges arriving at it)."""
    return _enum(types_pb2.Direction, value, field)


def key(value: KeyLike, field: str = "key") -> EntityKey:
    """An EntityKey from "TYPE:ID", (type, id) or an EntityKey (returned as is)."""
    if type(value) is tuple and len(value) == 2 and type(value[1]) is int:
        # The common case first (a bulk call converts every key): ("PRODUCT", 1).
        number = _ENTITY_TYPES.get(value[0]) if type(value[0]) is str else None
        if number is not None:
            return EntityKey(type=number, id=value[1])
    if isinstance(value, EntityKey):
        return value
    if isinstance(value, str):
        type_name, sep, id_text = value.partition(":")
        if not sep or not id_text.strip().isdigit():
            raise ValueError(f"{field}: {value!r} is not TYPE:ID (e.g. PRODUCT:1)")
        return EntityKey(type=entity_type(type_name, field), id=int(id_text))
    if isinstance(value, tuple) and len(value) == 2:
        return EntityKey(type=entity_type(value[0], field), id=int(value[1]))
    raise TypeError(f"{field}: expected 'TYPE:ID', (type, id) or EntityKey, "
                    f"got {type(value).__name__}")


def key_text(k: EntityKey) -> str:
    """"PRODUCT:1" for a key."""
    return f"{types_pb2.EntityType.Name(k.type)}:{k.id}"


def entity(k: KeyLike, name: str = "", attributes: Optional[Mapping[str, str]] = None,
           metrics: Optional[Mapping[str, float]] = None, update_time_ms: int = 0) -> Entity:
    """An Entity message."""
    out = Entity(key=key(k), name=name, update_time_ms=update_time_ms)
    out.attributes.update(attributes or {})
    out.metrics.update(metrics or {})
    return out


def edge(src: KeyLike, type: EnumLike, dst: KeyLike, time_ms: int = 0,  # noqa: A002
         weight: float = 0.0) -> Edge:
    """An Edge message; time_ms 0 means "now" on upsert."""
    return Edge(src=key(src, "src"), type=edge_type(type, "type"), dst=key(dst, "dst"),
                time_ms=time_ms, weight=weight)


def edge_key(value: Union[Edge, EdgeKey, tuple]) -> EdgeKey:
    """The identity of an edge, from an Edge, an EdgeKey or (src, type, dst)."""
    if isinstance(value, EdgeKey):
        return value
    if isinstance(value, Edge):
        return EdgeKey(src=value.src, type=value.type, dst=value.dst)
    src, type_, dst = value
    return EdgeKey(src=key(src, "src"), type=edge_type(type_, "type"), dst=key(dst, "dst"))


def hop(edge_type_: EnumLike, dir: EnumLike = "OUT", limit: int = 0,  # noqa: A002
        since_ms: int = 0, until_ms: int = 0) -> Hop:
    """One step of a traversal: follow `limit` newest edges (0 = server default 100)."""
    return Hop(edge_type=edge_type(edge_type_), direction=direction(dir), limit=limit,
               min_time_ms=since_ms, max_time_ms=until_ms)


def import_record(value) -> ImportRecord:
    """An ImportRecord from an Entity, an Edge, an ImportRecord, a dict or a JSONL line in
    the import format (docs/FORMATS.md)."""
    if isinstance(value, ImportRecord):
        return value
    if isinstance(value, Entity):
        return ImportRecord(entity=value)
    if isinstance(value, Edge):
        return ImportRecord(edge=value)
    if isinstance(value, (str, bytes)):
        return json_format.Parse(value, ImportRecord())
    if isinstance(value, Mapping):
        return json_format.ParseDict(value, ImportRecord())
    raise TypeError(f"cannot make an ImportRecord of {type(value).__name__}")


def knowledge_item(value) -> KnowledgeItem:
    """A KnowledgeItem: a key ("PRODUCT:1", (type, id), EntityKey) or a text (ProductText,
    or a dict of its fields: title, description, brand, attributes)."""
    if isinstance(value, KnowledgeItem):
        return value
    if isinstance(value, ProductText):
        return KnowledgeItem(text=value)
    if isinstance(value, Mapping):
        return KnowledgeItem(text=json_format.ParseDict(value, ProductText()))
    return KnowledgeItem(key=key(value, "items"))
