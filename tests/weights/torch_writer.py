"""Files in the layouts `torch.save` writes, assembled opcode by opcode (no torch): the zip
archive and the legacy stream, float32 storages, optionally wrapped as published CIFAR nets are
(`{"state_dict": {"module.<name>": ...}, "best_prec1": ...}`). The reader is tested against bytes
torch itself wrote too (torch_files/); this writer makes large files for the journeys."""

from __future__ import annotations

import pathlib
import struct
import zipfile

import numpy as np

AKAMASTER = pathlib.Path(__file__).parents[3] / "shared" / "weights" / "akamaster"


def opcode_global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def opcode_text(value: str) -> bytes:
    return b"X" + struct.pack("<I", len(value.encode())) + value.encode()


def opcode_int(value: int) -> bytes:
    if -(2**31) <= value < 2**31:
        return b"J" + struct.pack("<i", value)
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw  # LONG1


def opcode_ints(values) -> bytes:
    return b"(" + b"".join(map(opcode_int, values)) + b"t"


def opcode_tensor(numel: int, offset=0, size=(4,), stride=(1,), storage="FloatStorage", key="0") -> bytes:
    """`torch._utils._rebuild_tensor_v2(<storage key of numel elements>, offset, size, stride, ...)`."""
    pid = (
        b"("
        + opcode_text("storage")
        + opcode_global("torch", storage)
        + opcode_text(key)
        + opcode_text("cpu")
        + opcode_int(numel)
        + b"tQ"
    )
    hooks = opcode_global("collections", "OrderedDict") + b")R"
    return (
        opcode_global("torch._utils", "_rebuild_tensor_v2")
        + b"("
        + pid
        + opcode_int(offset)
        + opcode_ints(size)
        + opcode_ints(stride)
        + b"\x89"
        + hooks
        + b"tR"
    )


def opcode_dict(*items: tuple[str, bytes]) -> bytes:
    return b"}" + b"".join(opcode_text(k) + v + b"s" for k, v in items)


def pickled_state_dict(*items: tuple[str, bytes]) -> bytes:
    return b"\x80\x02" + opcode_dict(*items) + b"."


def write_zip(path, data_pkl: bytes, storages: dict[str, bytes], byteorder="little", compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", byteorder)
        for key, raw in storages.items():
            archive.writestr(f"archive/data/{key}", raw, compress_type=compress)
    return path


def write_torch(path, state: dict[str, np.ndarray], legacy: bool, best_prec1: float | None = None):
    """`state` in the layout torch.save writes (float32, one storage per tensor), zip or legacy;
    with `best_prec1`, wrapped as akamaster/pytorch_resnet_cifar10 published its nets."""
    items, storages = [], {}
    for i, (name, value) in enumerate(state.items()):
        value = np.ascontiguousarray(value, "<f4")
        stride = tuple(s // 4 for s in value.strides)
        prefix = "module." if best_prec1 is not None else ""
        items.append((prefix + name, opcode_tensor(value.size, size=value.shape, stride=stride, key=str(i))))
        storages[str(i)] = value.tobytes()
    if best_prec1 is None:
        pickled = pickled_state_dict(*items)
    else:
        wrapped = opcode_dict(("state_dict", opcode_dict(*items)), ("best_prec1", b"G" + struct.pack(">d", best_prec1)))
        pickled = b"\x80\x02" + wrapped + b"."
    if not legacy:
        return write_zip(path, pickled, storages)
    keys = b"\x80\x02(" + b"".join(opcode_text(k) for k in storages) + b"l."
    head = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.\x80\x02}."  # magic, 1001, sys info
    body = b"".join(struct.pack("<q", len(raw) // 4) + raw for raw in storages.values())
    pathlib.Path(path).write_bytes(head + pickled + keys + body)
    return path


def akamaster_forward(sd: dict[str, np.ndarray], x_nchw: np.ndarray, n: int) -> np.ndarray:
    """akamaster/pytorch_resnet_cifar10's ResNet in NumPy (float64, NCHW, PyTorch's semantics):
    3x3 convs padded 1, stride 2 in the first block of stages 2 and 3, BN in inference, option A as
    `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))`, average pool, `linear`."""
    from test_torch_checkpoint import _bn, _conv, _relu

    x = _relu(_bn(_conv(x_nchw, sd["conv1.weight"], 1, 1), sd, "bn1"))
    for stage, planes in enumerate((16, 32, 64), 1):
        for i in range(n):
            p, stride = f"layer{stage}.{i}", 2 if stage > 1 and i == 0 else 1
            y = _relu(_bn(_conv(x, sd[f"{p}.conv1.weight"], stride, 1), sd, f"{p}.bn1"))
            y = _bn(_conv(y, sd[f"{p}.conv2.weight"], 1, 1), sd, f"{p}.bn2")
            short = x
            if stride != 1 or x.shape[1] != planes:
                short = np.pad(x[:, :, ::2, ::2], ((0, 0), (planes // 4, planes // 4), (0, 0), (0, 0)))
            x = _relu(y + short)
    return x.mean(axis=(2, 3)) @ sd["linear.weight"].T.astype(np.float64) + sd["linear.bias"]
