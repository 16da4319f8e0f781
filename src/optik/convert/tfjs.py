"""Reader of TensorFlow.js graph models (``model.json`` + weight shards)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "float16": np.float16}


@dataclass
class TfjsNode:
    """One node of the frozen GraphDef: name, op, input names and raw attributes."""

    name: str
    op: str
    inputs: list[str]
    attr: dict = field(default_factory=dict)


@dataclass
class TfjsGraph:
    nodes: list[TfjsNode]
    weights: dict[str, np.ndarray]

    def by_name(self) -> dict[str, TfjsNode]:
        return {node.name: node for node in self.nodes}

    def ops(self, op: str) -> list[TfjsNode]:
        return [node for node in self.nodes if node.op == op]


def _read_entry(buffer: memoryview, offset: int, entry: dict) -> tuple[np.ndarray, int]:
    shape = entry["shape"]
    count = int(np.prod(shape)) if shape else 1
    quant = entry.get("quantization")
    if quant is None:
        dtype = np.dtype(_DTYPES[entry["dtype"]])
        array = np.frombuffer(buffer, dtype=dtype, count=count, offset=offset).astype(dtype)
        return array.reshape(shape), offset + count * dtype.itemsize
    qdtype = np.dtype(_DTYPES[quant["dtype"]])
    raw = np.frombuffer(buffer, dtype=qdtype, count=count, offset=offset)
    values = raw.astype(np.float32)
    if qdtype != np.float16:  # affine uint8/uint16 quantisation
        values = values * quant["scale"] + quant["min"]
    return values.astype(_DTYPES[entry["dtype"]]).reshape(shape), offset + count * qdtype.itemsize


def read_graph_model(model_json: Path) -> TfjsGraph:
    """Read the graph and every weight (float16-quantised values widened to float32)."""
    model_json = Path(model_json)
    spec = json.loads(model_json.read_text())
    if spec.get("format") != "graph-model":
        raise ValueError(f"{model_json.name} is not a TF.js graph model")
    weights: dict[str, np.ndarray] = {}
    for group in spec["weightsManifest"]:
        data = b"".join((model_json.parent / shard).read_bytes() for shard in group["paths"])
        buffer, offset = memoryview(data), 0
        for entry in group["weights"]:
            weights[entry["name"]], offset = _read_entry(buffer, offset, entry)
        if offset != len(data):
            raise ValueError(f"{model_json.name}: weights use {offset} of {len(data)} bytes")
    nodes = [
        TfjsNode(node["name"], node["op"], list(node.get("input", [])), node.get("attr", {}))
        for node in spec["modelTopology"]["node"]
    ]
    return TfjsGraph(nodes, weights)
