"""Skanna ID where zxing-cpp does not exist (an Android build: python-for-android has recipes for
pyzbar/zbar, none for zxing-cpp): the scanner reads with zbar alone.

The scanner runs in a child interpreter in which ``import zxingcpp`` fails, as it would in the
APK; the frames it reads are rendered here (the virtual camera draws its codes with zxing-cpp).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pyzbar import pyzbar

from kiosk.scanner import Scanner, decode, load_image
from simulator.virtual_camera import ean13_for, frames

BARCODES = Path(__file__).resolve().parents[1] / "fixtures" / "barcodes"
ROOT = Path(__file__).resolve().parents[2]

# Run in the child: zxing-cpp made unimportable before the scanner is imported.
CHILD = r"""
import json, sys
sys.modules["zxingcpp"] = None  # "import zxingcpp" now raises ImportError
from pathlib import Path
import numpy as np
from kiosk import scanner as S

job = json.loads(sys.stdin.read())
out = {"zxingcpp": S.zxingcpp is not None, "decoder": S.Scanner().decoder}
try:
    S.pipeline_for("zxing-cpp")
except S.DecoderUnavailable as exc:
    out["zxing_refused"] = str(exc)
out["photos"] = {p: [c.text.strip() for c in S.decode(S.load_image(Path(p)))]
                 for p in job["photos"]}
clips = np.load(job["clips"])
out["live"] = {}
for name in clips.files:
    clock = iter(i / 30 for i in range(10_000))
    scanner = S.Scanner(clock=lambda: next(clock))
    out["live"][name] = [(c.text, c.format) for f in clips[name] for c in scanner.process(f)]
print(json.dumps(out))
"""


def photo_samples() -> list[tuple[Path, str]]:
    """The corpus's QR, Code 128 and EAN-13 photos (zbar reads no PDF417) with their text."""
    samples = []
    for folder in ("qrcode-1", "qrcode-2", "qrcode-3", "code128-1", "code128-2", "ean13-1",
                   "ean13-2"):
        for image in sorted((BARCODES / folder).iterdir()):
            text = image.with_suffix(".txt")
            if image.suffix in (".png", ".webp", ".jpg") and text.exists():
                samples.append((image, text.read_bytes().decode("utf-8").strip()))
    return samples


def bare_zbar_reads(image: Path, expected: str) -> bool:
    results = pyzbar.decode(load_image(image))
    return expected in (r.data.decode("utf-8", errors="replace").strip() for r in results)


def test_without_zxing_cpp_the_scanner_reads_cards_and_phone_codes_with_zbar(
        tmp_path: Path) -> None:
    cards = {"card-qr:1001": ("1001", "QRCode"), "card-code128:1002": ("1002", "Code128"),
             "card-ean13:1003": (ean13_for("1003"), "EAN13")}
    clips = {name: np.stack(list(frames(name, 20, seed=1))) for name in cards}
    clips["vcard"] = np.stack(list(frames("vcard", 20, seed=2)))
    clips["licence"] = np.stack(list(frames("licence", 20, seed=1)))
    np.savez(tmp_path / "clips.npz", **{k.replace(":", "_"): v for k, v in clips.items()})
    samples = photo_samples()
    job = {"photos": [str(p) for p, _ in samples], "clips": str(tmp_path / "clips.npz")}

    result = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(job), cwd=ROOT,
                            capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.splitlines()[-1])

    assert out["zxingcpp"] is False  # the child really had no zxing-cpp
    assert out["decoder"] == "zbar"  # auto chose zbar by itself
    assert "pip install zxing-cpp" in out["zxing_refused"]  # asked for by name: says what to do
    # Every photo bare zbar reads, the scanner reads too, and its own stages read more.
    read = {str(p) for p, text in samples if text in out["photos"][str(p)]}
    bare = {str(p) for p, text in samples if bare_zbar_reads(p, text)}
    assert bare <= read
    assert len(read) >= len(bare) + 5
    assert len(read) >= 0.55 * len(samples)
    # Live: each card held up is one identification with its symbology, the phone's vCard too.
    live = {name.replace("_", ":", 1): [tuple(c) for c in codes]
            for name, codes in out["live"].items()}
    for name, code in cards.items():
        assert live[name] == [code], name
    assert [fmt for _, fmt in live["vcard"]] == ["QRCode"]
    assert "FN:Sara Lind" in live["vcard"][0][0]
    # zbar reads no PDF417: without zxing-cpp a driving licence is not read (README says so).
    assert live["licence"] == []


def test_the_decoder_is_chosen_by_name_and_a_wrong_name_is_refused() -> None:

    path = BARCODES / "qrcode-2" / "qr-inv-1.webp"  # light modules on dark
    text = path.with_suffix(".txt").read_bytes().decode("utf-8").strip()
    (code,) = decode(load_image(path), "zbar")
    assert (code.text.strip(), code.stage) == (text, "invert")  # zbar's own fallback read it
    zbar = Scanner(decoder="zbar")
    assert zbar.decoder == "zbar"
    assert "PDF417" not in zbar.plan.pipeline.symbologies  # what a screen may promise
    assert Scanner(decoder="auto").decoder == "zxing-cpp"  # here, where zxing-cpp exists
    with pytest.raises(ValueError, match="decoder is one of auto, zxing-cpp, zbar, not 'zxing'"):
        Scanner(decoder="zxing")
