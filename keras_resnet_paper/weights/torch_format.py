"""Files written by `torch.save`, read without PyTorch and without running their pickles.

Formats (recognised by content, whatever the suffix: .pth, .pt, .th, .bin, .tar):

- **zip** (torch >= 1.6): `<archive>/data.pkl` (the object), `<archive>/data/<key>` (each storage's
  raw bytes, stored uncompressed), `<archive>/byteorder` ("little" or "big"; little if absent).
- **legacy** (older torch, and `_use_new_zipfile_serialization=False`): five things in one stream:
  the magic number, the protocol version (1001), a sys-info dict (byte order), the object, the
  list of storage keys; then each storage in that order as an int64 element count and its bytes.
- **tar** (torch < 0.4): refused with one line that says so.

Threat model. A checkpoint is untrusted: a pickle is a program, and `pickle.load` runs whatever
callable it names (`os.system`, `builtins.eval`, `subprocess.Popen`, or a chain through an
innocent-looking function that calls another, such as torch's `_rebuild_from_type_v2` or
`storage._load_from_bytes`, which runs a nested unrestricted `torch.load`: the techniques of the
`weights_only` bypasses, CVE-2025-32434 among them). Here every global the pickle names goes
through `_Unpickler.find_class`, which returns one of our own stand-ins or refuses the file with a
`WeightsFileError` naming the global, before anything is called. The stand-ins:

- `collections.OrderedDict` -> `_StateDict`, a dict whose `__setstate__` accepts only a dict of
  plain values (torch's `_metadata` of versions);
- `torch._utils._rebuild_tensor` / `_rebuild_tensor_v2` / `_rebuild_tensor_v3`,
  `_rebuild_parameter` / `_rebuild_parameter_with_state` -> functions that check their arguments
  (a storage of ours, ints, tuples of ints) and return a `_TensorRef` record: nothing is called;
- `torch.<Type>Storage`, `torch.<dtype>`, `torch.Size` -> markers (a dtype, a tuple);

and the persistent ids (`("storage", type, key, location, numel)`) become records of ours. None of
them calls, imports or looks up anything named by the file. Our records refuse `BUILD` (no
attribute of theirs can be set from the file). Sizes in the file are untrusted too: a storage
must have exactly its declared bytes (never allocated from the declaration alone), a view must
lie inside its storage (offset, sizes, non-negative strides), so a hostile file is an error, never
a crash or an allocation larger than the file.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import struct
import tarfile
import zipfile
from collections import OrderedDict
from typing import Any

import numpy as np

from keras_resnet_paper.weights.errors import WeightsFileError

__all__ = ["TorchFile", "is_torch_file", "inspect_torch_file", "read_torch_file"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
#: `torch.<name>Storage` -> element type; BFloat16 is widened to float32 (exactly).
_STORAGES = {
    "FloatStorage": "f4",
    "DoubleStorage": "f8",
    "HalfStorage": "f2",
    "BFloat16Storage": "bf16",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "b1",
    "UntypedStorage": "u1",
}
#: `torch.<dtype>` (in `_rebuild_tensor_v3`) -> element type.
_DTYPES = {
    "float32": "f4",
    "float": "f4",
    "float64": "f8",
    "double": "f8",
    "float16": "f2",
    "half": "f2",
    "bfloat16": "bf16",
    "int64": "i8",
    "long": "i8",
    "int32": "i4",
    "int": "i4",
    "int16": "i2",
    "short": "i2",
    "int8": "i1",
    "uint8": "u1",
    "bool": "b1",
}
_ITEMSIZE = {"f4": 4, "f8": 8, "f2": 2, "bf16": 2, "i8": 8, "i4": 4, "i2": 2, "i1": 1, "u1": 1, "b1": 1}


@dataclasses.dataclass(frozen=True)
class TorchFile:
    """What a `torch.save` file holds: its tensors by name (the state dict, unwrapped), the plain
    values beside them (`best_prec1`, `epoch`, ...), and which of the formats it was."""

    tensors: dict[str, np.ndarray]
    metadata: dict[str, Any]
    format: str


class _Refused(Exception):
    """A reason to refuse the file; turned into a `WeightsFileError` naming it."""


@dataclasses.dataclass(frozen=True)
class _Kind:
    """A marker of an element type (`torch.FloatStorage`, `torch.float16`)."""

    code: str
    name: str

    def __call__(self, *args, **kwargs):
        raise _Refused(f"the file calls torch.{self.name}, which a state dict never does")

    def __setstate__(self, state):
        raise _Refused(f"the file sets the state of torch.{self.name}")


@dataclasses.dataclass
class _Storage:
    """A storage of the file: its key, element type and element count (bytes read later)."""

    key: str
    kind: _Kind
    numel: int
    base: _Storage | None = None  # legacy views of a storage: (root, offset)
    offset: int = 0
    raw: np.ndarray | None = None  # its bytes (uint8), read after the object
    little: bool = True

    def __setstate__(self, state):
        raise _Refused("the file sets the state of a storage")


@dataclasses.dataclass
class _TensorRef:
    """A tensor of the file: a view (offset, size, stride in elements) into a storage."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    kind: _Kind | None = None  # _rebuild_tensor_v3's dtype over an untyped storage

    def __setstate__(self, state):
        raise _Refused("the file sets the state of a tensor")


class _StateDict(OrderedDict):
    """`collections.OrderedDict` as the file builds it: torch's `_metadata` attribute (a dict of
    versions) is the only state it takes."""

    def __setstate__(self, state):
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise _Refused("the file sets an OrderedDict's state to something other than a dict of names")
        # torch's `_metadata` (module versions) says nothing about the values: dropped


def _ints(name: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(type(v) is int for v in value):
        raise _Refused(f"a tensor's {name} is {value!r}, not a tuple of ints")
    if any(v < 0 for v in value):
        raise _Refused(f"a tensor's {name} {value!r} has a negative entry")
    return value


def _rebuild_tensor(storage, offset, size, stride, *rest, kind: _Kind | None = None) -> _TensorRef:
    if not isinstance(storage, _Storage):
        raise _Refused(f"a tensor is rebuilt from {type(storage).__name__}, not from a storage of the file")
    if type(offset) is not int or offset < 0:
        raise _Refused(f"a tensor's storage offset is {offset!r}")
    size, stride = _ints("size", size), _ints("stride", stride)
    if len(size) != len(stride):
        raise _Refused(f"a tensor's size {size} and stride {stride} differ in length")
    _no_hooks(rest[1] if len(rest) >= 2 else None, "a tensor")
    return _TensorRef(storage, offset, size, stride, kind)


def _no_hooks(hooks: Any, what: str) -> None:
    """Backward hooks are functions: a state dict's are None or an empty OrderedDict."""
    if hooks is not None and not (isinstance(hooks, dict) and not hooks):
        raise _Refused(f"{what} carries backward hooks")


def _rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype, *metadata) -> _TensorRef:
    if not isinstance(dtype, _Kind):
        raise _Refused(f"a tensor's dtype is {dtype!r}")
    return _rebuild_tensor(storage, offset, size, stride, requires_grad, hooks, kind=dtype)


def _rebuild_parameter(data, requires_grad=False, hooks=None, *state) -> _TensorRef:
    if not isinstance(data, _TensorRef):
        raise _Refused("a parameter is rebuilt from something other than a tensor")
    _no_hooks(hooks, "a parameter")
    return data


def _size(values=()) -> tuple[int, ...]:
    return _ints("size", tuple(values))


_ALLOWED = {
    ("collections", "OrderedDict"): _StateDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): _size,
}


class _Unpickler(pickle.Unpickler):
    """Resolves only `_ALLOWED`, the storage types and the dtypes; `storages` maps the persistent
    ids to `_Storage` records (legacy views included)."""

    def __init__(self, file, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGES:
            return _Kind(_STORAGES[name], name)
        if module == "torch" and name in _DTYPES:
            return _Kind(_DTYPES[name], name)
        raise _Refused(f"it names the global {module}.{name}, which a state dict never needs (nothing was run)")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            kind = pid[0] if isinstance(pid, tuple) and pid else type(pid).__name__
            raise _Refused(f"it holds a persistent object of kind {kind!r} (a whole pickled model?), not a storage")
        if len(pid) not in (5, 6) or not isinstance(pid[1], _Kind) or not isinstance(pid[2], str):
            raise _Refused(f"a storage reference is malformed: {pid[:5]!r}")
        numel = pid[4]
        if type(numel) is not int or numel < 0:
            raise _Refused(f"storage {pid[2]!r} declares {numel!r} elements")
        key, kind = pid[2], pid[1]
        root = self.storages.setdefault(key, _Storage(key, kind, numel))
        if root.kind != kind or root.numel != numel:
            raise _Refused(f"storage {key!r} is declared twice with different types or sizes")
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return root
        if not (isinstance(view, tuple) and len(view) == 3 and type(view[1]) is int and type(view[2]) is int):
            raise _Refused(f"storage view {view!r} of {key!r} is malformed")
        if view[1] < 0 or view[2] < 0 or view[1] + view[2] > numel:
            raise _Refused(f"storage view {view!r} lies outside storage {key!r} of {numel} elements")
        return _Storage(f"{key}[{view[1]}:]", kind, view[2], base=root, offset=view[1])


def _load(data: bytes | io.BufferedIOBase, storages: dict[str, _Storage]):
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    return _Unpickler(stream, storages).load()


def _dtype(code: str, little: bool) -> np.dtype:
    if code == "b1":
        return np.dtype("?")
    return np.dtype(("<" if little else ">") + ("u2" if code == "bf16" else code))


def _native(values: np.ndarray, code: str) -> np.ndarray:
    """Values in native byte order; bfloat16 (read as uint16) widened to float32, exactly."""
    values = values.astype(values.dtype.newbyteorder("="), copy=False)
    return (values.astype(np.uint32) << 16).view(np.float32) if code == "bf16" else values


def _tensor(ref: _TensorRef, name: str) -> np.ndarray:
    """The values of a tensor of the file, after checking that its view lies inside its storage."""
    storage, offset = ref.storage, ref.offset
    while storage.base is not None:
        storage, offset = storage.base, offset + storage.offset
    code = storage.kind.code
    if ref.kind is not None and ref.kind.code != code:  # _rebuild_tensor_v3: a dtype over untyped bytes
        if code != "u1":
            raise _Refused(f"tensor {name!r} reinterprets a {storage.kind.name} as torch.{ref.kind.name}")
        code = ref.kind.code
    itemsize = _ITEMSIZE[code]
    if storage.raw.size % itemsize:
        raise _Refused(f"tensor {name!r} is not aligned to its elements")
    flat = storage.raw.view(_dtype(code, storage.little))  # offsets and strides count these elements
    if any(s == 0 for s in ref.size):
        return _native(np.zeros(ref.size, flat.dtype), code)
    last = offset + sum((s - 1) * st for s, st in zip(ref.size, ref.stride))
    if last >= flat.size:
        raise _Refused(
            f"tensor {name!r} (size {ref.size}, stride {ref.stride}, offset {offset}) reaches past its "
            f"storage of {flat.size} elements"
        )
    if _contiguous(ref.size, ref.stride):  # the common case: a slice of the storage, no copy
        return _native(flat[offset : offset + int(np.prod(ref.size))].reshape(ref.size), code)
    strides = tuple(st * itemsize for st in ref.stride)
    view = np.lib.stride_tricks.as_strided(flat[offset:], shape=ref.size, strides=strides, writeable=False)
    return _native(np.array(view), code)


def _contiguous(size: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    expected = 1
    for s, st in zip(reversed(size), reversed(stride)):
        if s != 1 and st != expected:
            return False
        expected *= s
    return True


def _read_bytes(f, storage: _Storage, nbytes: int, little: bool) -> None:
    raw = np.empty(nbytes, np.uint8)
    if f.readinto(memoryview(raw)) != nbytes:
        raise _Refused(f"storage {storage.key!r} is truncated")
    storage.raw, storage.little = raw, little


def _read_zip_storages(archive: zipfile.ZipFile, prefix: str, storages: dict[str, _Storage], little: bool) -> None:
    for storage in storages.values():
        if storage.base is not None:
            continue
        name = f"{prefix}data/{storage.key}"
        try:
            info = archive.getinfo(name)
        except KeyError:
            raise _Refused(f"storage {storage.key!r} is missing ({name})") from None
        itemsize = _ITEMSIZE[storage.kind.code]
        if info.compress_type != zipfile.ZIP_STORED:
            raise _Refused(f"storage {storage.key!r} is compressed (torch stores them as they are)")
        if info.file_size != storage.numel * itemsize:
            raise _Refused(
                f"storage {storage.key!r} holds {info.file_size} bytes, not the {storage.numel} x {itemsize} it declares"
            )
        _read_bytes(_stored_data(archive, info), storage, info.file_size, little)


def _stored_data(archive: zipfile.ZipFile, info: zipfile.ZipInfo):
    """The archive's file positioned at an uncompressed entry's bytes (no CRC pass over them: the
    sizes are checked instead, as torch's own reader does)."""
    f = archive.fp
    f.seek(info.header_offset)
    header = f.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise _Refused(f"the zip entry {info.filename} has no local header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    f.seek(info.header_offset + 30 + name_length + extra_length)
    return f


def _read_zip(path: str, with_storages: bool = True) -> Any:
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise _Refused("it is a zip archive without one <archive>/data.pkl: not a torch.save file")
        prefix = pickles[0][: -len("data.pkl")]
        names = set(archive.namelist())
        order = archive.read(prefix + "byteorder").decode().strip() if prefix + "byteorder" in names else "little"
        if order not in ("little", "big"):
            raise _Refused(f"its byte order is {order!r}")
        storages: dict[str, _Storage] = {}
        obj = _load(archive.read(pickles[0]), storages)
        if with_storages:
            _read_zip_storages(archive, prefix, storages, order == "little")
    return obj


def _read_legacy(path: str, with_storages: bool = True) -> Any:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if _load(f, {}) != _LEGACY_MAGIC:
            raise _Refused("it is a pickle but not a torch.save file (no magic number)")
        if _load(f, {}) != _LEGACY_PROTOCOL:
            raise _Refused("its legacy protocol version is not 1001")
        info = _load(f, {})
        little = not isinstance(info, dict) or info.get("little_endian", True) is not False
        storages: dict[str, _Storage] = {}
        obj = _load(f, storages)
        keys = _load(f, {})
        if not isinstance(keys, list) or sorted(keys) != sorted(k for k, s in storages.items() if s.base is None):
            raise _Refused("its list of storage keys does not match the storages the object uses")
        for key in keys if with_storages else ():
            storage = storages[key]
            head = f.read(8)
            if len(head) != 8:
                raise _Refused(f"storage {key!r} is truncated")
            count = struct.unpack("<q" if little else ">q", head)[0]
            nbytes = count * _ITEMSIZE[storage.kind.code]
            if count != storage.numel:
                raise _Refused(f"storage {key!r} holds {count} elements, not the {storage.numel} its tensors declare")
            if nbytes > size - f.tell():
                raise _Refused(f"storage {key!r} declares {nbytes} bytes, more than the file has left")
            _read_bytes(f, storage, nbytes, little)
    return obj


def is_torch_file(path: str | os.PathLike) -> bool:
    """Whether `path` looks like a `torch.save` file (zip with data.pkl, or the legacy stream)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            head = f.read(16)
        if head[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(path) as archive:
                return any(n.endswith("/data.pkl") and n.count("/") == 1 for n in archive.namelist())
        return (
            head[:2] == b"\x80\x02"
            and head[2:4] == b"\x8a\x0a"
            and int.from_bytes(head[4:14], "little") == _LEGACY_MAGIC
        )
    except (OSError, zipfile.BadZipFile):
        return False


def _plain(value: Any) -> bool:
    if isinstance(value, (bool, int, float, str, type(None))):
        return True
    return isinstance(value, (list, tuple)) and all(_plain(v) for v in value)


def _split(obj: Any) -> tuple[dict[str, _TensorRef], dict[str, Any]]:
    """(the tensors of what the file holds, by name, DataParallel's `module.` prefix gone; the
    plain values beside them: a wrapper's such as `best_prec1`, then the state dict's own)."""
    if not isinstance(obj, dict):
        raise _Refused(f"it holds an object of type {type(obj).__name__!r}, not a state dict")
    state, metadata = obj, {}
    for key in ("state_dict", "model", "model_state", "model_state_dict"):
        inner = obj.get(key)
        if isinstance(inner, dict) and any(isinstance(v, _TensorRef) for v in inner.values()):
            state, metadata = inner, {str(k): v for k, v in obj.items() if _plain(v)}
            break
    refs = {str(k): v for k, v in state.items() if isinstance(v, _TensorRef)}
    for k, v in state.items():
        if _plain(v):
            metadata.setdefault(str(k), v)
    if not refs:
        raise _Refused("it holds no tensors")
    if all(name.startswith("module.") for name in refs):  # saved from DataParallel
        refs = {name[len("module.") :]: ref for name, ref in refs.items()}
    return refs, metadata


def _read(path: str, with_storages: bool) -> tuple[Any, str]:
    if zipfile.is_zipfile(path):
        return _read_zip(path, with_storages), "zip"
    if tarfile.is_tarfile(path):
        raise _Refused(
            "it is a tar archive: the format of torch < 0.4, not read here (load it with torch and save it again)"
        )
    return _read_legacy(path, with_storages), "legacy"


def _guarded(path: str, read):
    """`read()`, with every way a file can be wrong turned into a `WeightsFileError` naming it."""
    try:
        return read()
    except _Refused as err:
        raise WeightsFileError(f"Cannot read {path!r} as a PyTorch checkpoint: {err}.") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        zipfile.BadZipFile,
        UnicodeDecodeError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        struct.error,
        RecursionError,
        MemoryError,
        OverflowError,
    ) as err:
        raise WeightsFileError(
            f"Cannot read {path!r} as a PyTorch checkpoint (truncated or corrupt?): {type(err).__name__}: {err}"
        ) from None


def inspect_torch_file(path: str | os.PathLike) -> tuple[list[str], dict[str, Any]]:
    """(the tensor names, the plain values beside them) of a `torch.save` file, its object read
    (through the restricted unpickler) but not its storages: a quick check that the file is a
    readable state dict, done before a model is built. Problems are a `WeightsFileError`."""
    path = os.fspath(path)

    def inspect():
        refs, metadata = _split(_read(path, with_storages=False)[0])
        return list(refs), metadata

    return _guarded(path, inspect)


def read_torch_file(path: str | os.PathLike) -> TorchFile:
    """The tensors (`{name: numpy array}`) and plain values of a file `torch.save` wrote, zip or
    legacy; a hostile, truncated or other file is a `WeightsFileError` naming it and the reason."""
    path = os.fspath(path)

    def read():
        obj, kind = _read(path, with_storages=True)
        refs, metadata = _split(obj)
        return TorchFile({name: _tensor(ref, name) for name, ref in refs.items()}, metadata, kind)

    return _guarded(path, read)
