#!/usr/bin/env python3
"""Writes the committed seed corpora of fuzz/corpus/<target>/ (run from the repository root).
   python3 fuzz/make_seeds.py CHECKPOINT
CHECKPOINT: a real small checkpoint, e.g. from
   build/catgan train --data moons --iters 2 --out /tmp/x   (then /tmp/x/checkpoint.cgck).
Each harness reads byte 0 as its mode (see fuzz/fuzz_<target>.c); the rest is the file."""
import gzip, os, struct, sys, zlib

root = "fuzz/corpus"

def put(target, name, data):
    os.makedirs(f"{root}/{target}", exist_ok=True)
    with open(f"{root}/{target}/{name}", "wb") as f:
        f.write(data)

# ---- IDX: byte 0 picks the file (0 train images, 1 train labels, 2 t10k images, 3 labels)
def idx_images(n, h, w):
    return struct.pack(">IIII", 0x803, n, h, w) + bytes((7 * i) % 256 for i in range(n * h * w))

def idx_labels(n):
    return struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n))

put("idx", "train_images", b"\x00" + idx_images(2, 3, 2))
put("idx", "train_labels", b"\x01" + idx_labels(2))
put("idx", "t10k_images_gz", b"\x02" + gzip.compress(idx_images(2, 3, 2), mtime=0))
put("idx", "t10k_labels_gz", b"\x03" + gzip.compress(idx_labels(2), mtime=0))
put("idx", "train_images_28", b"\x00" + idx_images(2, 28, 28))

# ---- PNG: byte 0 bit 0 = recompute chunk CRCs; then a PNG file
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

def pack_row(samples, depth):
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc, bits = (acc << depth) | s, bits + depth
        if bits == 8:
            out.append(acc); acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]

def png(w, h, ctype, depth, interlace=0, extra=b""):
    ch = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    top = (1 << depth) - 1
    def px(x, y):
        return [((x * 37 + y * 11 + c * 5) % (top + 1)) for c in range(ch)]
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        xs, ys = range(x0, w, dx), range(y0, h, dy)
        if not xs or not ys:
            continue
        for y in ys:
            raw += b"\x00" + pack_row([s for x in xs for s in px(x, y)], depth)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))

plte = chunk(b"PLTE", bytes(range(48))) + chunk(b"tRNS", bytes([255, 0, 128]))
put("png", "grey8_4x3", b"\x01" + png(4, 3, 0, 8))
put("png", "grey1_9x5", b"\x01" + png(9, 5, 0, 1))
put("png", "grey4_4x3", b"\x01" + png(4, 3, 0, 4))
put("png", "grey16_3x3", b"\x01" + png(3, 3, 0, 16))
put("png", "rgb8_4x3_adam7", b"\x01" + png(4, 3, 2, 8, interlace=1))
put("png", "rgb16_2x2", b"\x01" + png(2, 2, 2, 16))
put("png", "pal2_4x3_trns", b"\x01" + png(4, 3, 3, 2, extra=plte))
put("png", "greyalpha8_4x3", b"\x01" + png(4, 3, 4, 8))
put("png", "rgba8_11x7_adam7", b"\x00" + png(11, 7, 6, 8, interlace=1))

# ---- checkpoint: byte 0 bit 0 = repair mode (see fuzz/fuzz_checkpoint.c)
ck = open(sys.argv[1], "rb").read()
put("checkpoint", "moons_iter2", b"\x01" + ck)
put("checkpoint", "header_only", b"\x00" + ck[:176])
put("checkpoint", "truncated", b"\x00" + ck[:1000])

# ---- cli: argv words separated by newlines; the whole text is also the JSON
put("cli", "train_opts", b"--data\nmoons\n--iters\n10\n--lr\n1e-3\n--beta1\n0.9\n--seed\n7\n"
    b"--threads\n2\n--batch\n64\n--labels\n100\n--classes\n10\n--json\n--quiet")
put("cli", "train_more", b"--epochs\n0.5\n--time\n3.5\n--lambda\n2\n--lr-g\n1e-5\n--arch\nconv\n"
    b"--out\n/tmp/run\n--resume\nruns/x\n--log-every\n50\n--profile")
put("cli", "bad_values", b"--batch\n1\n--seed\n-3\n--lr\nnan\n--iters\n99999999999999999999")
put("cli", "meta_json", b'{"data":"moons","arch":"mlp2d","classes":2,"labels":0,"batch":100,'
    b'"seed":1,"lambda":1,"lr":0.0002,"lr_g":2e-06,"beta1":0.5,"seconds":0.25,'
    b'"target_iters":2,"time":0,"log_every":200,"version":"0.1.0"}')
put("cli", "meta_escapes", b'{"data" : "fold\\"er:/x\\\\y", "seed": 1e400, "batch":-1}')
