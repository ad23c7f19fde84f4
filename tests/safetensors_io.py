"""Read and write the F32 safetensors files used by the PyTorch helper scripts.

Shared by tests/torch_reference.py, tests/torch_optim_reference.py and
tests/torch_interop.py. Layout written: 8-byte little-endian unsigned header length N,
N bytes of JSON header (compact, space-padded so that 8 + N is a multiple of 8), then the
raw little-endian float32 data. The header maps each tensor name to {"dtype": "F32",
"shape": [...], "data_offsets": [begin, end]} (byte offsets into the data section), in the
order given, and "__metadata__" to a {string: string} map. Tensors lie contiguous in that
order and cover the data section exactly.
"""

import json
import struct

import torch


class SafetensorsError(ValueError):
    """A file does not follow the layout above."""


def safetensors_bytes(tensors, metadata, ensure_ascii=True):
    """tensors: (name, tensor) pairs (or a dict) in data order, each stored as F32;
    metadata: {str: str}. ensure_ascii=False keeps non-ASCII characters in the header
    as UTF-8 instead of \\u escapes. Returns the whole file's bytes."""
    pairs = tensors.items() if isinstance(tensors, dict) else tensors
    header = {}
    chunks = []
    offset = 0
    for name, t in pairs:
        t = t.detach().to(torch.float32).contiguous()
        values = t.reshape(-1).tolist()
        data = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=ensure_ascii).encode("utf-8")
    text += b" " * ((-(8 + len(text))) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_safetensors(path, tensors, metadata, ensure_ascii=True):
    """Writes safetensors_bytes(tensors, metadata, ensure_ascii) to path."""
    blob = safetensors_bytes(tensors, metadata, ensure_ascii)
    with open(path, "wb") as f:
        f.write(blob)
    return blob


def read_safetensors(path, strict=True):
    """Returns ({name: float32 tensor} in header order, metadata dict).

    Raises SafetensorsError when the file is malformed: too short, header past the end,
    a dtype other than F32, offsets that do not fit the shape, or tensors that leave gaps,
    overlap, or do not cover the data section exactly. strict=True (the layout this module
    writes) also requires the padded header, "__metadata__", and data in header order;
    strict=False accepts tensors in any order and a missing "__metadata__" ({}).
    """
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise SafetensorsError("%s: shorter than 8 bytes" % path)
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise SafetensorsError("%s: header length %d past end of file" % (path, n))
    if strict and (8 + n) % 8 != 0:
        raise SafetensorsError("%s: header not padded to 8 bytes" % path)
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    if strict and "__metadata__" not in header:
        raise SafetensorsError("%s: no __metadata__" % path)
    metadata = header.pop("__metadata__", {})
    tensors = {}
    spans = []
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise SafetensorsError("%s: tensor %s has dtype %s, expected F32"
                                   % (path, name, info["dtype"]))
        begin, end = info["data_offsets"]
        count = 1
        for d in info["shape"]:
            count *= d
        if end - begin != 4 * count or begin < 0 or end > len(data):
            raise SafetensorsError("%s: tensor %s: offsets %s do not fit shape %s"
                                   % (path, name, info["data_offsets"], info["shape"]))
        values = struct.unpack("<%df" % count, data[begin:end])
        tensors[name] = torch.tensor(values, dtype=torch.float32).reshape(info["shape"])
        spans.append((begin, end, name))
    pos = 0
    for begin, end, name in (spans if strict else sorted(spans)):
        if begin != pos:
            raise SafetensorsError("%s: gap or overlap before tensor %s" % (path, name))
        pos = end
    if pos != len(data):
        raise SafetensorsError("%s: tensors do not cover the data section exactly" % path)
    return tensors, metadata
