#!/usr/bin/env python3
"""Writes the seed corpus of the `load_and_run` fuzz target.

    python3 runtime/fuzz/make_seeds.py EXPORTED_F32 EXPORTED_F16 OUT_DIR [EXPORTED ...]

EXPORTED_* are model files written by `export` (e.g. after
`trainer fit --iters 20 --eval-every 0 --out /tmp/fz --quiet` and
`export /tmp/fz/checkpoint.safetensors --f32|--fp16 -o ...`). A real export
is ~0.4-0.8 MB (hidden layers 300 wide), too big for a fuzz seed, so each
one is shrunk: every hidden layer keeps its first WIDTH outputs (and the next
layer its first WIDTH inputs). Header key order, metadata, dtypes, per-step
biases, PReLU slopes, schedule and normalisation stay as export wrote them.
Further exported files (e.g. `--bf16`, `--int8 --calibrate FILE`) become
`tiny-{weight_dtype}[-reconstruction | -calibrated].safetensors`; int8 scales shrink with their
rows, calibration tensors are kept as they are.
Shrinking changes the data section, so the `crc32` metadata (the CRC-32 of
the bytes after the header, docs/model-format.md "Checksum") is recomputed
for every written file that has one.
Then a few hand-made malformed files are added, among them a copy of the f16
seed with one flipped data byte (`crc-mismatch`).

The committed corpus also keeps `v1-tiny-*.safetensors`: seeds of format
version 1 (no base measure, no checksum, no input contract) written by an
earlier release, so that old files stay covered; this script does not touch
them.
"""
import json
import os
import struct
import sys
import zlib

WIDTH = 4


def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8 : 8 + n])
    return header, b[8 + n :]


def write(path, header, data):
    meta = header.get("__metadata__", {})
    if "crc32" in meta:
        meta["crc32"] = str(zlib.crc32(data))
    # ensure_ascii=False: the runtime reads no \u escapes (names may be UTF-8).
    js = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    js += b" " * (-(8 + len(js)) % 8)  # safetensors-style padding
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + data)


def shrink(header, data):
    meta = header["__metadata__"]
    size = {"F32": 4, "F16": 2, "BF16": 2, "I8": 1}
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        tensors[name] = (t["dtype"], t["shape"], data[b:e])

    def sub(name, rows, cols):
        """First `rows` x `cols` of a 2-d tensor (or first `cols` of 1-d)."""
        dt, shape, raw = tensors[name]
        s = size[dt]
        if len(shape) == 1:
            tensors[name] = (dt, [cols], raw[: cols * s])
            return
        r0, c0 = shape
        rows = r0 if rows is None else rows
        out = b"".join(raw[i * c0 * s : (i * c0 + cols) * s] for i in range(rows))
        tensors[name] = (dt, [rows, cols], out)

    for net in ("energy", "generator"):
        n = int(meta[f"{net}_layers"])
        width = tensors[f"{net}.0.weight"][1][1]  # layer 0 input dim
        for i in range(n):
            out = tensors[f"{net}.{i}.weight"][1][0]
            new_out = out if i == n - 1 else min(out, WIDTH)
            sub(f"{net}.{i}.weight", new_out, width)
            sub(f"{net}.{i}.bias", None, new_out)  # [out] or per-step [T, out]
            if f"{net}.{i}.scale" in tensors:
                sub(f"{net}.{i}.scale", None, new_out)
            width = new_out

    out_header = {"__metadata__": meta}
    blob = b""
    for name in header:
        if name == "__metadata__":
            continue
        dt, shape, raw = tensors[name]
        out_header[name] = {
            "dtype": dt,
            "shape": shape,
            "data_offsets": [len(blob), len(blob) + len(raw)],
        }
        blob += raw
    return out_header, blob


def main():
    f32, f16, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    for src, name in ((f32, "tiny-f32"), (f16, "tiny-f16")):
        h, d = shrink(*read(src))
        write(os.path.join(out, name + ".safetensors"), h, d)
    for src in sys.argv[4:]:
        h, d = shrink(*read(src))
        name = "tiny-" + h["__metadata__"]["weight_dtype"]
        if h["__metadata__"].get("anomaly_score") == "reconstruction":
            name += "-reconstruction"
        elif "calibration.quantiles" in h:
            name += "-calibrated"
        write(os.path.join(out, name + ".safetensors"), h, d)

    valid = open(os.path.join(out, "tiny-f16.safetensors"), "rb").read()
    hdr = struct.pack
    edge = {
        # cut in the middle of the header / of the data buffer
        "truncated-header": valid[: len(valid) // 4],
        "truncated-data": valid[: len(valid) - 7],
        # one flipped byte in the data buffer: the checksum must catch it
        "crc-mismatch": valid[:-5] + bytes([valid[-5] ^ 0x40]) + valid[-4:],
        # header length far past the end, and u64::MAX
        "header-len-huge": hdr("<Q", 1 << 40) + valid[8:200],
        "header-len-max": b"\xff" * 8 + b"{}",
        # shorter than the 8-byte length prefix
        "short": b"\x02\x00\x00",
        "empty-json": hdr("<Q", 2) + b"{}",
        "metadata-only": (lambda j: hdr("<Q", len(j)) + j)(
            json.dumps({"__metadata__": read(os.path.join(out, "tiny-f32.safetensors"))[0]["__metadata__"]}).encode()
        ),
        "deep-nesting": (lambda j: hdr("<Q", len(j)) + j)(b'{"a":{"b":{"c":{}}}}'),
        "escape-and-sign": (lambda j: hdr("<Q", len(j)) + j)(
            b'{"__metadata__":{"format":"ddaebm\\u002dmodel"},"x":{"shape":[-1,1e3]}}'
        ),
    }
    for name, b in edge.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b)


if __name__ == "__main__":
    main()
