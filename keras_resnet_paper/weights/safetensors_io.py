"""A small, safe reader and writer of the safetensors format with NumPy only (no torch, no pickle).

Layout: an 8-byte little-endian unsigned header length N, N bytes of JSON mapping each tensor
name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets into the byte buffer that
follows the header; an optional ``"__metadata__"`` entry holds strings), then the raw
little-endian tensor bytes. The reader checks every offset against the file before touching the
data, so a truncated or inconsistent file is refused with a clear error.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_CODES = {v: k for k, v in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """A file that is not a valid safetensors file."""


def _parse_header(path: str, start: bytes, size: int, read_header) -> tuple[int, dict]:
    """(header length, header) from the first 8 bytes of a file of `size` bytes; checked."""
    if len(start) < 8:
        raise SafetensorsError(f"{path!r}: too short for a safetensors file ({size} bytes).")
    (n,) = struct.unpack("<Q", start[:8])
    if n > _MAX_HEADER or 8 + n > size:
        raise SafetensorsError(
            f"{path!r}: header length {n} exceeds the file of {size} bytes (truncated, or not a safetensors file)."
        )
    try:
        header = json.loads(read_header(n).decode("utf8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SafetensorsError(f"{path!r}: unreadable JSON header: {err}") from err
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path!r}: the header is not a JSON object.")
    return n, header


def read_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """{name: array} of a safetensors file (BF16 is widened to float32)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        blob = f.read()
    n, header = _parse_header(path, blob[:8], len(blob), lambda n: blob[8 : 8 + n])
    data = memoryview(blob)[8 + n :]
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            code, shape, (begin, end) = info["dtype"], [int(d) for d in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError) as err:
            raise SafetensorsError(f"{path!r}: bad header entry for {name!r}: {info!r}") from err
        if code == "BF16":
            dtype, itemsize = None, 2
        elif code in _DTYPES:
            dtype = _DTYPES[code]
            itemsize = dtype.itemsize
        else:
            raise SafetensorsError(f"{path!r}: tensor {name!r} has unsupported dtype {code!r}.")
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != count * itemsize:
            raise SafetensorsError(
                f"{path!r}: tensor {name!r} (shape {shape}, {code}) has byte range "
                f"[{begin}, {end}) that does not fit the {len(data)}-byte data section (truncated?)."
            )
        raw = data[begin:end]
        if dtype is None:
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=dtype)
        out[name] = array.reshape(shape).copy()
    return out


def read_safetensors_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The optional ``__metadata__`` string map of a safetensors file (its header only is read)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        _, header = _parse_header(path, f.read(8), os.path.getsize(path), f.read)
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict):
        raise SafetensorsError(f"{path!r}: __metadata__ is not a JSON object.")
    return {str(k): str(v) for k, v in metadata.items()}


def write_safetensors(
    path: str | os.PathLike, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None
) -> None:
    """Write {name: array} as safetensors (little-endian, names sorted, header 8-byte aligned)."""
    header: dict = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks, offset = [], 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        dtype = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
        if dtype not in _CODES:
            raise SafetensorsError(f"tensor {name!r}: dtype {array.dtype} is not supported.")
        raw = np.ascontiguousarray(array, dtype=dtype).tobytes()
        header[name] = {"dtype": _CODES[dtype], "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf8")
    text += b" " * (-len(text) % 8)
    with open(os.fspath(path), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)
