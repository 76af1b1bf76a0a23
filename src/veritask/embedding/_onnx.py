"""A tiny ONNX graph interpreter in numpy, enough to run the MiniLM encoder.

Why not onnxruntime: it adds ~78 MB installed (and numpy another ~73 MB),
which breaks the < 100 MB budget for the embedding layer; the encoder is six
small transformer layers that numpy runs in a few milliseconds per sentence.
So this module reads the ``.onnx`` protobuf with a hand-written decoder (no
``onnx``/``protobuf`` dependency) and evaluates the graph node by node.

Only the operators the shipped model uses are implemented; an unknown operator
raises :class:`UnsupportedModel` at load time, never mid-request. Nodes whose
inputs are all constants (the int8 → float32 weight dequantisation) are folded
once at load, so each call does only the real work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]


class UnsupportedModel(Exception):
    """The ONNX file uses something this interpreter does not implement."""


# ---------------------------------------------------------------- protobuf --


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def _fields(buf: memoryview) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(field_number, wire_type, value)`` for one protobuf message."""
    i = 0
    end = len(buf)
    while i < end:
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            length, i = _varint(buf, i)
            value = buf[i : i + length]
            i += length
        elif wire == 5:
            value = buf[i : i + 4]
            i += 4
        elif wire == 1:
            value = buf[i : i + 8]
            i += 8
        else:
            raise UnsupportedModel(f"protobuf wire type {wire}")
        yield number, wire, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _packed_ints(wire: int, value: Any) -> list[int]:
    if wire == 0:
        return [_signed(value)]
    out: list[int] = []
    i = 0
    while i < len(value):
        v, i = _varint(value, i)
        out.append(_signed(v))
    return out


_DTYPES: dict[int, type[np.generic]] = {
    1: np.float32,
    2: np.uint8,
    3: np.int8,
    6: np.int32,
    7: np.int64,
    9: np.bool_,
    10: np.float16,
    11: np.float64,
}


def _dtype(code: int) -> type[np.generic]:
    try:
        return _DTYPES[code]
    except KeyError:
        raise UnsupportedModel(f"tensor data type {code}") from None


def _tensor(buf: memoryview) -> tuple[str, Array]:
    dims: list[int] = []
    code = 1
    name = ""
    raw: Any = None
    floats: list[float] = []
    ints: list[int] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            dims.extend(_packed_ints(wire, value))
        elif number == 2:
            code = value
        elif number == 4:
            floats.extend(np.frombuffer(bytes(value), dtype="<f4").tolist())
        elif number in (5, 7):
            ints.extend(_packed_ints(wire, value))
        elif number == 8:
            name = bytes(value).decode()
        elif number == 9:
            raw = value
        elif number == 14:
            raise UnsupportedModel(f"tensor {name!r} uses external data")
    dtype = _dtype(code)
    if raw is not None:
        array = np.frombuffer(bytes(raw), dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
    elif floats:
        array = np.asarray(floats, dtype=dtype)
    else:
        array = np.asarray(ints, dtype=dtype)
    return name, array.reshape(dims)


def _attribute(buf: memoryview) -> tuple[str, Any]:
    name = ""
    out: Any = None
    ints: list[int] = []
    floats: list[float] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            name = bytes(value).decode()
        elif number == 2:
            out = float(np.frombuffer(bytes(value), dtype="<f4")[0])
        elif number == 3:
            out = _signed(value)
        elif number == 4:
            out = bytes(value).decode()
        elif number == 5:
            out = _tensor(value)[1]
        elif number == 7:
            data = bytes(value)
            floats.extend(np.frombuffer(data, dtype="<f4").tolist())
        elif number == 8:
            ints.extend(_packed_ints(wire, value))
    if ints:
        out = ints
    elif floats:
        out = floats
    return name, out


@dataclass(frozen=True)
class _Node:
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)


def _node(buf: memoryview) -> _Node:
    op = ""
    domain = ""
    inputs: list[str] = []
    outputs: list[str] = []
    attrs: dict[str, Any] = {}
    for number, _wire, value in _fields(buf):
        if number == 1:
            inputs.append(bytes(value).decode())
        elif number == 2:
            outputs.append(bytes(value).decode())
        elif number == 4:
            op = bytes(value).decode()
        elif number == 5:
            key, attr = _attribute(value)
            attrs[key] = attr
        elif number == 7:
            domain = bytes(value).decode()
    if domain not in ("", "ai.onnx"):
        raise UnsupportedModel(f"operator domain {domain!r} ({op})")
    return _Node(op, tuple(inputs), tuple(outputs), attrs)


def _value_info_name(buf: memoryview) -> str:
    for number, _wire, value in _fields(buf):
        if number == 1:
            return bytes(value).decode()
    return ""


# --------------------------------------------------------------- operators --

_A = 0.3275911
_P = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _erf(x: Array) -> Array:
    # numpy has no erf; a rational approximation is good to ~1e-6 in float64,
    # far below what int8 weights already perturb.
    x64 = x.astype(np.float64)
    sign = np.sign(x64)
    a = np.abs(x64)
    t = 1.0 / (1.0 + _A * a)
    poly = t * (_P[0] + t * (_P[1] + t * (_P[2] + t * (_P[3] + t * _P[4]))))
    out: Array = (sign * (1.0 - poly * np.exp(-a * a))).astype(x.dtype)
    return out


def _slice(x: Array, starts: Array, ends: Array, axes: Array | None, steps: Array | None) -> Array:
    axes_l = list(range(len(starts))) if axes is None else [int(a) for a in axes]
    steps_l = [1] * len(starts) if steps is None else [int(s) for s in steps]
    index: list[slice] = [slice(None)] * x.ndim
    for start, stop, axis, step in zip(starts, ends, axes_l, steps_l, strict=True):
        dim = x.shape[axis]
        lo = max(min(int(start), dim), -dim - 1)
        hi = max(min(int(stop), dim), -dim - 1)
        index[axis] = slice(lo, hi, step)
    return x[tuple(index)]


def _layer_norm(x: Array, scale: Array, bias: Array | None, attrs: Mapping[str, Any]) -> Array:
    axis = int(attrs.get("axis", -1))
    eps = float(attrs.get("epsilon", 1e-5))
    axes = tuple(range(axis % x.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    out: Array = (x - mean) / np.sqrt(var + eps) * scale
    return out + bias if bias is not None else out


def _softmax(x: Array, axis: int) -> Array:
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    out: Array = shifted / shifted.sum(axis=axis, keepdims=True)
    return out


def _reshape(x: Array, shape: Array) -> Array:
    dims = [x.shape[i] if int(d) == 0 else int(d) for i, d in enumerate(shape)]
    return x.reshape(dims)


def _gather_nd(data: Array, indices: Array, batch_dims: int) -> Array:
    if batch_dims == 0:
        picked: Array = data[tuple(np.moveaxis(indices, -1, 0))]
        return picked
    if batch_dims != 1:
        raise UnsupportedModel("GatherND batch_dims > 1")
    return np.stack([data[b][tuple(np.moveaxis(indices[b], -1, 0))] for b in range(data.shape[0])])


def _shape(x: Array, attrs: Mapping[str, Any]) -> Array:
    dims = x.shape[attrs.get("start", 0) : attrs.get("end", None)]
    return np.asarray(dims, dtype=np.int64)


def _run_node(node: _Node, args: list[Array | None]) -> Array:  # noqa: C901
    op, at = node.op, node.attrs
    a = args[0]
    assert a is not None
    b = args[1] if len(args) > 1 else None
    if op in _BINARY:
        assert b is not None
        return _BINARY[op](a, b)
    if op in _UNARY:
        return _UNARY[op](a)
    if op == "Cast":
        return a.astype(_dtype(int(at["to"])))
    if op == "Reshape":
        assert b is not None
        return _reshape(a, b)
    if op == "Transpose":
        return np.transpose(a, at.get("perm"))
    if op == "Slice":
        assert b is not None and args[2] is not None
        return _slice(a, b, args[2], *(args[3:5] + [None] * (5 - len(args))))
    if op == "Concat":
        return np.concatenate([x for x in args if x is not None], axis=int(at["axis"]))
    if op == "LayerNormalization":
        assert b is not None
        return _layer_norm(a, b, args[2] if len(args) > 2 else None, at)
    if op == "Shape":
        return _shape(a, at)
    if op == "Unsqueeze":
        axes = [int(x) for x in (b if b is not None else at["axes"])]
        return np.expand_dims(a, tuple(ax % (a.ndim + len(axes)) for ax in axes))
    if op == "Squeeze":
        axes_sq = b if b is not None else at.get("axes")
        return np.squeeze(a, None if axes_sq is None else tuple(int(x) for x in axes_sq))
    if op == "Where":
        assert b is not None and args[2] is not None
        return np.where(a, b, args[2])
    if op == "Softmax":
        return _softmax(a, int(at.get("axis", -1)))
    if op == "Gather":
        assert b is not None
        return np.take(a, b, axis=int(at.get("axis", 0)))
    if op == "Range":
        assert b is not None and args[2] is not None
        return np.arange(a.item(), b.item(), args[2].item()).astype(a.dtype)
    if op == "Expand":
        assert b is not None
        return a * np.ones([int(d) for d in b], dtype=a.dtype)
    if op == "Max":
        out_max = a
        for other in args[1:]:
            if other is not None:
                out_max = np.maximum(out_max, other)
        return out_max
    if op == "GatherND":
        assert b is not None
        return _gather_nd(a, b, int(at.get("batch_dims", 0)))
    raise UnsupportedModel(f"operator {op}")


def _matmul(a: Array, b: Array) -> Array:
    # (batch, seq, k) @ (k, n) as one 2-D GEMM: numpy would otherwise make one
    # small BLAS call per batch row, which is ~10x slower when threads contend.
    if b.ndim == 2 and a.ndim > 2:
        flat: Array = np.matmul(a.reshape(-1, a.shape[-1]), b)
        return flat.reshape(*a.shape[:-1], b.shape[-1])
    out: Array = np.matmul(a, b)
    return out


_BINARY: dict[str, Callable[[Array, Array], Array]] = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Div": lambda a, b: (a // b) if np.issubdtype(a.dtype, np.integer) else np.divide(a, b),
    "MatMul": _matmul,
    "And": np.logical_and,
    "Or": np.logical_or,
    "Equal": np.equal,
    "Less": np.less,
    "Greater": np.greater,
    "GreaterOrEqual": np.greater_equal,
    "LessOrEqual": np.less_equal,
    "Pow": np.power,
}

_UNARY: dict[str, Callable[[Array], Array]] = {
    "Erf": _erf,
    "IsNaN": np.isnan,
    "Not": np.logical_not,
    "Sqrt": np.sqrt,
    "Tanh": np.tanh,
    "Relu": lambda x: np.maximum(x, 0),
    "Neg": np.negative,
    "Identity": lambda x: x,
}

_SUPPORTED = {
    *_BINARY,
    *_UNARY,
    "Cast", "Reshape", "Transpose", "Slice", "Concat", "LayerNormalization", "Shape",
    "Unsqueeze", "Squeeze", "Where", "Softmax", "Gather", "Range", "Expand", "Max",
    "GatherND",
}  # fmt: skip


# ------------------------------------------------------------------- graph --


class Graph:
    """A loaded ONNX graph: constants folded, ready to :meth:`run`."""

    def __init__(self, data: bytes) -> None:
        buf = memoryview(data)
        graph = next((v for n, _w, v in _fields(buf) if n == 7), None)
        if graph is None:
            raise UnsupportedModel("no graph in the ONNX file")
        consts: dict[str, Array] = {}
        nodes: list[_Node] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        for number, _wire, value in _fields(graph):
            if number == 1:
                nodes.append(_node(value))
            elif number == 5:
                name, array = _tensor(value)
                consts[name] = array
            elif number == 11:
                self.inputs.append(_value_info_name(value))
            elif number == 12:
                self.outputs.append(_value_info_name(value))
        self.inputs = [name for name in self.inputs if name not in consts]
        unknown = {n.op for n in nodes} - _SUPPORTED
        if unknown:
            raise UnsupportedModel(f"operators not implemented: {sorted(unknown)}")
        # Fold every node computable from constants alone (weight dequantisation).
        self._nodes: list[_Node] = []
        for node in nodes:
            if node.op not in ("Shape",) and all(not i or i in consts for i in node.inputs):
                result = _run_node(node, [consts[i] if i else None for i in node.inputs])
                consts[node.outputs[0]] = result
            else:
                self._nodes.append(node)
        needed = {i for n in self._nodes for i in n.inputs} | set(self.outputs)
        self._consts = {k: v for k, v in consts.items() if k in needed}

        self._last_use = _last_uses(self._nodes, set(self._consts) | set(self.outputs))

    def run(self, feeds: Mapping[str, Array]) -> list[Array]:
        """Evaluate the graph; returns the graph outputs in declaration order.

        Each intermediate is dropped right after the last node that reads it:
        keeping them all (attention scores are batch x heads x seq x seq per
        layer) made a batch of long chunks peak at several GiB.
        """
        values: dict[str, Array] = dict(self._consts)
        values.update(feeds)
        for step, node in enumerate(self._nodes):
            args = [values[i] if i else None for i in node.inputs]
            values[node.outputs[0]] = _run_node(node, args)
            for name in self._last_use.get(step, ()):
                values.pop(name, None)
        return [values[name] for name in self.outputs]


def _last_uses(nodes: Sequence[_Node], kept: set[str]) -> dict[int, list[str]]:
    """Map a node's index to the computed values no later node reads.

    Constants and graph outputs (``kept``) are never freed; a value that is
    computed but never read is freed right after the node that made it.
    """
    last: dict[str, int] = {}
    for step, node in enumerate(nodes):
        for name in node.outputs:
            last.setdefault(name, step)
        for name in node.inputs:
            if name:
                last[name] = step
    frees: dict[int, list[str]] = {}
    for name, step in last.items():
        if name not in kept:
            frees.setdefault(step, []).append(name)
    return frees


__all__ = ["Graph", "UnsupportedModel"]
