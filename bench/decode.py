"""Skanna ID decoding: read rates per format for the product's pipeline and, in the same run, for
bare zxing-cpp and bare pyzbar; time per live 1280×720 frame; processor use with nothing in view.

Samples: the barcode photos in tests/fixtures/barcodes (a copy of ../shared/corpus/barcodes; pass
another folder as the first argument) and seeded virtual-camera frames of every item the
simulator can hold up.  A sample counts as read when a decoded text equals its expected text
(surrounding white space ignored); the two photos whose payload is binary (.bin) are left out.

* ``rate_*``: the product's pipeline on still images (``kiosk.scanner.decode``, as
  ``selfreg-kiosk decode``); ``zxingcpp_rate_*``: ``zxingcpp.read_barcodes`` with the product's
  formats and its defaults (rotation, inversion, downscaling); ``pyzbar_rate_*``:
  ``pyzbar.decode`` with QR, Code 128 and EAN-13; ``union_rate_*``: either bare library.
* ``frame_ms_p50``/``p95``: the live scanner's work per 1280×720 frame (zxing-cpp plus one
  fallback stage in turn), over virtual-camera sequences of every item and of nothing.
* ``frame_cpu_ms_p50``/``p95``: the same frames in processor time, which a busy machine
  inflates far less than wall time (compare decoders by these when others share the cores).
* ``idle_cpu_pct``: the scanner thread fed 30 frames a second with nothing in view, after it has
  settled, in percent of one core (``idle_cpu_pct_awake``: its first seconds, before resting).

``--decoder zbar`` measures the pipeline an Android build runs (python-for-android has no
zxing-cpp recipe: zbar and its own fallback stages only, as ``kiosk.scanner`` chooses when
zxing-cpp cannot be imported); the default, ``auto``, is the full pipeline led by zxing-cpp.  The
bare-library columns are the same in both runs.

Progress goes to stderr; the last line of stdout is one flat JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar
from pyzbar.pyzbar import ZBarSymbol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.scanner import DECODERS, FORMATS, Scanner, decode, pipeline_for, to_gray  # noqa: E402
from simulator.virtual_camera import Flaws, Scene, parse_item  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "barcodes"
KINDS = ("qr", "pdf417", "code128", "ean13")
FAMILY = {"qrcode": "qr", "pdf417": "pdf417", "code128": "code128", "ean13": "ean13"}
# What the virtual camera holds up, by the format on it.
VIRTUAL = {"qr": ("card-qr:1001", "vcard", "mecard"), "pdf417": ("licence",),
           "code128": ("card-code128:1001",), "ean13": ("card-ean13:1001",)}
SEEDS = (1, 2, 3, 4, 5, 6)
FRAMES_PER_SEED = 8
# Harder than the default: a shakier hand, more blur and noise, lower JPEG quality.
HARD = Flaws(shake=1.4, blur=1.6, noise=1.5, glare=1.5, jpeg=(35, 70))
IDLE_SECONDS = 12.0


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def photos(folder: Path) -> list[tuple[str, np.ndarray, str]]:
    samples = []
    for image in sorted(folder.glob("*/*")):
        if image.suffix.lower() not in (".png", ".jpg", ".webp"):
            continue
        text = image.with_suffix(".txt")
        kind = FAMILY.get(image.parent.name.rsplit("-", 1)[0])
        if kind is None or not text.exists():
            continue  # a .bin payload, or a folder of something else
        gray = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
        # Bytes, not read_text: universal newlines would turn a QR payload's CRLF into LF.
        samples.append((kind, gray, text.read_bytes().decode("utf-8")))
    return samples


def virtual_frames() -> list[tuple[str, np.ndarray, str]]:
    samples = []
    for kind, items in VIRTUAL.items():
        for name in items:
            item = parse_item(name)
            for seed in SEEDS:
                scene = Scene(seed, flaws=HARD if seed % 2 == 0 else None)
                for n in range(FRAMES_PER_SEED):
                    samples.append((kind, to_gray(scene.render(item, n * 7)), item.payload))
    return samples


def bare_zxing(gray: np.ndarray) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(gray, formats=FORMATS,
                                                   text_mode=zxingcpp.TextMode.Plain)]


def bare_pyzbar(gray: np.ndarray) -> list[str]:
    symbols = [ZBarSymbol.QRCODE, ZBarSymbol.CODE128, ZBarSymbol.EAN13]
    return [r.data.decode("utf-8", errors="replace") for r in pyzbar.decode(gray, symbols)]


Outcome = tuple[str, bool, bool, bool]  # kind, product, bare zxing-cpp, bare pyzbar


def outcomes(samples: list[tuple[str, np.ndarray, str]], label: str,
             decoder: str) -> list[Outcome]:
    out = []
    for i, (kind, gray, expected) in enumerate(samples):
        want = expected.strip()
        product = want in (c.text.strip() for c in decode(gray, decoder))
        zx = want in (t.strip() for t in bare_zxing(gray))
        zb = want in (t.strip() for t in bare_pyzbar(gray))
        out.append((kind, product, zx, zb))
        if product < (zx or zb):
            progress(f"  {label} sample {i} ({kind}): a bare library reads it, the product not")
        if i % 50 == 49:
            progress(f"  {label}: {i + 1}/{len(samples)}")
    return out


def rates(results: list[Outcome], prefixes: tuple[str, ...] = ("", "zxingcpp_", "pyzbar_",
                                                                  "union_")) -> dict[str, float]:
    out: dict[str, float] = {}
    for kind in KINDS:
        mine = [r for r in results if r[0] == kind]
        if not mine:
            continue
        read = {"": sum(r[1] for r in mine), "zxingcpp_": sum(r[2] for r in mine),
                "pyzbar_": sum(r[3] for r in mine), "union_": sum(r[2] or r[3] for r in mine)}
        out.update({f"{p}rate_{kind}": round(read[p] / len(mine), 4) for p in prefixes})
    return out


def frame_times(decoder: str) -> tuple[list[float], list[float]]:
    """Wall and processor milliseconds per live frame."""
    times: list[float] = []
    cpu: list[float] = []
    for name in ("nothing", *(n for items in VIRTUAL.values() for n in items), "garbage"):
        item = parse_item(name)
        for seed in (11, 12):
            scene = Scene(seed, flaws=HARD if seed % 2 == 0 else None)
            clip = [scene.render(item, n) for n in range(30)]
            scanner = Scanner(decoder=decoder)
            for frame in clip:
                started = time.process_time()  # every thread: OpenCV may use its own
                scanner.process(frame)
                cpu.append((time.process_time() - started) * 1000)
            times += list(scanner.stats.last_ms)
            mine = sorted(scanner.stats.last_ms)
            progress(f"  {name} seed {seed}: p50 {mine[len(mine) // 2]:.1f} ms, "
                     f"max {mine[-1]:.1f} ms")
    return times, cpu


def idle_cpu(decoder: str) -> tuple[float, float]:
    """Percent of one core the scanner thread uses with nothing in view: settled, and awake."""
    scene = Scene(21)
    clip = [scene.render(parse_item("nothing"), n) for n in range(30)]
    scanner = Scanner(decoder=decoder)
    scanner.start()
    period = 1 / 30
    marks: list[tuple[float, float]] = []
    started = time.monotonic()
    n = 0
    try:
        while (now := time.monotonic()) - started < IDLE_SECONDS:
            if not marks or (now - started >= scanner.rest_after_s + 1.0 and len(marks) == 1):
                marks.append((now, time.process_time()))
            scanner.submit(clip[n % len(clip)])
            n += 1
            time.sleep(max(0.0, started + n * period - time.monotonic()))
        marks.append((time.monotonic(), time.process_time()))
    finally:
        scanner.stop()
    (w0, c0), (w1, c1), (w2, c2) = marks
    return 100 * (c2 - c1) / (w2 - w1), 100 * (c1 - c0) / (w1 - w0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=CORPUS,
                        help="barcode photos, one folder per kind (default: the test corpus)")
    parser.add_argument("--decoder", choices=DECODERS, default="auto",
                        help="the scanner's decoder: zbar is what an Android build has")
    args = parser.parse_args()
    folder, decoder = args.folder, pipeline_for(args.decoder).decoder
    progress(f"decoder {decoder}; photos in {folder}")
    corpus = photos(folder)
    progress(f"{len(corpus)} photos; rendering virtual-camera frames")
    virtual = virtual_frames()
    progress(f"{len(virtual)} virtual frames; decoding")
    from_photos = outcomes(corpus, "photos", decoder)
    from_virtual = outcomes(virtual, "virtual", decoder)
    everything = from_photos + from_virtual
    result: dict[str, float | int | str] = {"decoder": decoder}
    result.update(rates(everything))
    result.update({f"n_{k}": sum(r[0] == k for r in everything) for k in KINDS})
    # Read by the product's pipeline and by neither bare library.
    result.update({f"gain_{k}": sum(r[0] == k and r[1] and not (r[2] or r[3]) for r in everything)
                   for k in KINDS})
    for prefix, part in (("photos_", from_photos), ("virtual_", from_virtual)):
        result.update({prefix + k: v for k, v in rates(part, ("", "union_")).items()})
    progress("live frame times")
    times, cpu = frame_times(decoder)
    progress(f"idle processor use ({IDLE_SECONDS:.0f} s)")
    idle, awake = idle_cpu(decoder)
    q = statistics.quantiles(times, n=100)
    q_cpu = statistics.quantiles(cpu, n=100)
    result.update({"frame_ms_p50": round(statistics.median(times), 1),
                   "frame_ms_p95": round(q[94], 1), "frames_timed": len(times),
                   "frame_cpu_ms_p50": round(statistics.median(cpu), 1),
                   "frame_cpu_ms_p95": round(q_cpu[94], 1),
                   "idle_cpu_pct": round(idle, 1), "idle_cpu_pct_awake": round(awake, 1)})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
