"""Skanna ID's decoder: camera frames in, codes (text, symbology, corners) out.

Two parts:

* :func:`decode` and :class:`LivePlan` — the decode pipeline.  zxing-cpp reads first; what it
  misses goes through a list of *fallback stages*, each chosen because it reads codes the others
  miss on the corpus photos or the virtual camera's frames (``bench/decode.py`` measures each):
  zbar as a second opinion (EAN-13 photos, some damaged QR), 1D codes held on their side, an
  unsharp mask (blurred 1D codes), a deskew (zxing-cpp reads a PDF417 only within about 5° of
  level), inverted codes, a global threshold on a smoothed image (noisy QR), and for small photos
  an enlargement and a contrast stretch.  A still image gets every stage until one reads
  something (``selfreg-kiosk decode``); a live frame gets zxing-cpp plus *one* fallback stage in
  turn, so a frame stays within its 33 ms and a card held up for a fraction of a second still
  meets every stage.
* :class:`Scanner` — the worker thread.  It decodes off the UI thread, keeps only the newest
  frame (a frame arriving while one is decoded replaces the waiting one: frames are dropped,
  never queued), rests when nothing moves in front of the camera, and debounces: one card held
  up is one identification; a different card is read at once, the same card again only after it
  has been out of view for ``forget_s``.

Two decoders can lead the pipeline (``decoder``): ``zxing-cpp`` (the full pipeline above) or
``zbar`` alone (its own, shorter list of fallbacks), for builds where zxing-cpp does not exist:
python-for-android, which packages the kiosk for Android tills, has recipes for pyzbar/zbar but
none for zxing-cpp.  ``auto`` (the default) takes zxing-cpp when it can be imported.  zbar reads
QR, Code 128 and EAN-13 but no PDF417, so without zxing-cpp a driving licence is not read.

OpenCV, numpy and the decoders are imported with this module, which the kiosk imports only when
Skanna ID first opens.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

try:
    import zxingcpp
except ImportError:  # an Android build: zbar reads alone (see the module doc)
    zxingcpp = None

log = logging.getLogger("selfreg.kiosk.scanner")

Gray = np.ndarray
Point = tuple[float, float]
Corners = tuple[Point, Point, Point, Point]

# What Skanna ID reads: member cards (EAN-13, Code 128, QR), vCard/MECARD QR on phones, licences
# (PDF417), and the 2D codes some apps show instead of QR.  Fewer formats is faster.
SYMBOLOGIES = ("QRCode", "PDF417", "Code128", "EAN13", "DataMatrix", "Aztec")
ZBAR_SYMBOLOGIES = ("QRCode", "Code128", "EAN13")  # zbar 0.23 reads no PDF417 at all
if zxingcpp is not None:
    _F = zxingcpp.BarcodeFormat
    FORMATS = tuple(getattr(_F, name) for name in SYMBOLOGIES)
    LINEAR = (_F.Code128, _F.EAN13)
else:
    FORMATS = LINEAR = ()

DECODERS = ("auto", "zxing-cpp", "zbar")
IN_STORE = ("2",)  # GS1's prefix for numbers used within a company: member cards' EAN-13s

# zbar's names for the same symbologies, in zxing-cpp's spelling (the protocol's `symbology`).
_ZBAR_NAMES = {"QRCODE": "QRCode", "EAN13": "EAN13", "CODE128": "Code128"}


@dataclass(frozen=True)
class Code:
    """One code read in a frame: its text, its symbology (zxing-cpp's format name, e.g. QRCode,
    EAN13) and its four corners in frame pixels (top-left, top-right, bottom-right, bottom-left
    as the code is read)."""

    text: str
    format: str
    corners: Corners
    stage: str = "zxing"  # which stage of the pipeline read it

    @property
    def key(self) -> tuple[str, str]:
        return self.format, self.text


# --- stages -----------------------------------------------------------------------------------

def _affine_inverse(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(matrix)


def _map(points: Sequence[Point], back: np.ndarray | None) -> Corners:
    pts = [(float(x), float(y)) for x, y in points]
    if back is not None:
        arr = np.asarray(pts, np.float32) @ back[:, :2].T + back[:, 2]
        pts = [(float(x), float(y)) for x, y in arr]
    return (pts[0], pts[1], pts[2], pts[3])


def zxing_read(gray: Gray, *, formats: Sequence[zxingcpp.BarcodeFormat] = FORMATS,
               rotate: bool = False, invert: bool = False,
               binarizer: zxingcpp.Binarizer | None = None,
               back: np.ndarray | None = None, stage: str = "zxing",
               failed: dict[str, Corners] | None = None) -> list[Code]:
    """zxing-cpp on a grey image; ``back`` maps its pixels to the frame's.  Codes it found but
    could not read go into ``failed``, format to corners (which fallback to try, and where)."""
    if binarizer is None:
        binarizer = zxingcpp.Binarizer.LocalAverage
    # Plain text: the raw characters (an AAMVA payload's separators), not zxing's <LF> markup.
    found = zxingcpp.read_barcodes(gray, formats=tuple(formats), try_rotate=rotate,
                                   try_invert=invert, try_downscale=True, binarizer=binarizer,
                                   text_mode=zxingcpp.TextMode.Plain,
                                   return_errors=failed is not None)
    codes = []
    for b in found:
        p = b.position
        corners = _map([(c.x, c.y) for c in (p.top_left, p.top_right, p.bottom_right,
                                            p.bottom_left)], back)
        if not b.valid or not b.text:
            if failed is not None:
                failed[b.format.name] = corners
            continue
        codes.append(Code(b.text, b.format.name, corners, stage))
    return codes


_Y800 = 0x30303859  # zbar's fourcc for 8-bit grey ("Y800"; pyzbar calls it L800)


class _Zbar:
    """zbar through pyzbar's ctypes bindings, with the scan density pyzbar does not expose.

    A new image scanner for every image, as pyzbar does: a scanner used again carries the codes
    of the image before into the next one (a card read a moment ago came back, beside the card
    now held up, in bench/scan_to_connect.py)."""

    def __init__(self) -> None:
        from pyzbar import wrapper as zw

        self.zw = zw

    def _scanner(self, density: int) -> object:
        zw = self.zw
        scanner = zw.zbar_image_scanner_create()
        zw.zbar_image_scanner_set_config(scanner, 0, zw.ZBarConfig.CFG_ENABLE, 0)
        for sym in (zw.ZBarSymbol.EAN13, zw.ZBarSymbol.CODE128, zw.ZBarSymbol.QRCODE):
            zw.zbar_image_scanner_set_config(scanner, sym, zw.ZBarConfig.CFG_ENABLE, 1)
        zw.zbar_image_scanner_set_config(scanner, 0, zw.ZBarConfig.CFG_X_DENSITY, density)
        zw.zbar_image_scanner_set_config(scanner, 0, zw.ZBarConfig.CFG_Y_DENSITY, density)
        return scanner

    def read(self, gray: Gray, *, density: int = 1, back: np.ndarray | None = None,
             stage: str = "zbar") -> list[Code]:
        zw = self.zw
        gray = np.ascontiguousarray(gray)
        height, width = gray.shape
        scanner = self._scanner(density)
        image = zw.zbar_image_create()
        try:
            zw.zbar_image_set_format(image, _Y800)
            zw.zbar_image_set_size(image, width, height)
            data = gray.tobytes()
            zw.zbar_image_set_data(image, ctypes.cast(data, ctypes.c_void_p), len(data), None)
            codes: list[Code] = []
            if zw.zbar_scan_image(scanner, image) > 0:
                symbol = zw.zbar_image_first_symbol(image)
                while symbol:
                    codes.append(self._code(symbol, back, stage))
                    symbol = zw.zbar_symbol_next(symbol)
            return [c for c in codes if c.text]
        finally:
            zw.zbar_image_destroy(image)
            zw.zbar_image_scanner_destroy(scanner)

    def _code(self, symbol: object, back: np.ndarray | None, stage: str) -> Code:
        zw = self.zw
        kind = symbol.contents.type  # type: ignore[attr-defined]
        name = _ZBAR_NAMES.get(zw.ZBarSymbol(kind).name, zw.ZBarSymbol(kind).name)
        raw = ctypes.string_at(zw.zbar_symbol_get_data(symbol),
                               zw.zbar_symbol_get_data_length(symbol))
        n = zw.zbar_symbol_get_loc_size(symbol)
        pts = np.array([(zw.zbar_symbol_get_loc_x(symbol, i), zw.zbar_symbol_get_loc_y(symbol, i))
                        for i in range(n)], np.float32)
        # zbar gives the scan lines' end points for 1D codes: their bounding box is the code.
        x0, y0 = pts.min(0) if n else (0, 0)
        x1, y1 = pts.max(0) if n else (0, 0)
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        # zbar hands text over as UTF-8 (it converts Shift JIS and Latin-1 QR content itself).
        return Code(raw.decode("utf-8", errors="replace"), name, _map(corners, back), stage)


_zbar: _Zbar | None = None


def zbar_read(gray: Gray, *, density: int = 1, back: np.ndarray | None = None,
              stage: str = "zbar") -> list[Code]:
    global _zbar
    if _zbar is None:
        _zbar = _Zbar()
    return _zbar.read(gray, density=density, back=back, stage=stage)


def _scaled(gray: Gray, factor: float) -> tuple[Gray, np.ndarray]:
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    out = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=interp)
    back = np.array([[1 / factor, 0, 0], [0, 1 / factor, 0]], np.float32)
    return out, back


def dominant_angle(gray: Gray) -> float:
    """The tilt, in degrees within ±45, of the strongest straight edges (a code's bars and its
    rows), from a magnitude-weighted histogram of gradient directions at a quarter size."""
    small = cv2.resize(gray, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    small = small.astype(np.float32)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    mag = cv2.magnitude(gx, gy)
    strong = mag > np.percentile(mag, 85)
    if not strong.any():
        return 0.0
    angles = (np.degrees(np.arctan2(gy[strong], gx[strong])) + 45) % 90 - 45
    hist, edges = np.histogram(angles, bins=90, range=(-45, 45), weights=mag[strong])
    smooth = np.convolve(np.r_[hist[-2:], hist, hist[:2]], np.ones(5), "valid")
    return float(edges[int(smooth.argmax())] + 0.5)


def _rotated(gray: Gray, degrees: float) -> tuple[Gray, np.ndarray]:
    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    out = cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return out, _affine_inverse(matrix)


def _density(gray: Gray) -> int:
    # Full density on photos; every second line on camera frames, which halves zbar's time and
    # still crosses a card's bars dozens of times.
    return 2 if gray.shape[1] >= 1000 else 1


def stage_zbar(gray: Gray) -> list[Code]:
    return zbar_read(gray, density=_density(gray))


def stage_sideways(gray: Gray) -> list[Code]:
    """1D codes held on their side (zxing-cpp's own rotation pass, 1D formats only)."""
    return zxing_read(gray, formats=LINEAR, rotate=True, stage="sideways")


def _sharpened(gray: Gray) -> Gray:
    return cv2.addWeighted(gray, 1.8, cv2.GaussianBlur(gray, (0, 0), 2.0), -0.8, 0)


def stage_sharpen(gray: Gray) -> list[Code]:
    """An unsharp mask: brings back the bars of a card slightly out of focus or moving."""
    return zxing_read(_sharpened(gray), stage="sharpen")


def stage_deskew(gray: Gray, near: Sequence[Point] | None = None) -> list[Code]:
    """Level the image by the code's own tilt (zxing-cpp reads PDF417 only near level).

    ``near``: corners where a code was found or last read; only that part of the frame, with a
    margin, is levelled and read, which makes this stage several times faster."""
    return _deskew(gray, near, lambda level, back: zxing_read(
        level, formats=(_F.PDF417, *LINEAR), back=back, stage="deskew"))


def _deskew(gray: Gray, near: Sequence[Point] | None,
            read: Callable[[Gray, np.ndarray], list[Code]]) -> list[Code]:
    offset = np.zeros(2, np.float32)
    if near is not None:
        pts = np.asarray(near, np.float32)
        low, high = pts.min(0), pts.max(0)
        margin = (high - low) * 0.3 + 24
        h, w = gray.shape
        x0, y0 = np.maximum(low - margin, 0).astype(int)
        x1, y1 = np.minimum(high + margin, (w, h)).astype(int)
        if x1 - x0 >= 32 and y1 - y0 >= 32:
            gray = gray[y0:y1, x0:x1]
            offset = np.array([x0, y0], np.float32)
    angle = dominant_angle(gray)
    if abs(angle) < 3:
        return []
    level, back = _rotated(gray, angle)
    back[:, 2] += offset
    return read(level, back)


def stage_invert(gray: Gray) -> list[Code]:
    """Light codes on a dark background (dark-mode phone screens, some cards)."""
    return zxing_read(cv2.bitwise_not(gray), stage="invert")


def stage_smooth(gray: Gray) -> list[Code]:
    """Noise that breaks the local binarizer: smooth, then one global threshold."""
    return zxing_read(cv2.GaussianBlur(gray, (3, 3), 0),
                      binarizer=zxingcpp.Binarizer.GlobalHistogram, stage="smooth")


# --- zbar alone (no zxing-cpp): its own stages, each a transform zbar then reads --------------
# Each reads, alone, corpus photos or virtual-camera frames the primary and the others miss
# (measured on bench/decode.py's samples; zbar needs no "sideways" stage: it scans columns as
# well as rows).

def zbar_primary(gray: Gray, failed: dict[str, Corners] | None = None) -> list[Code]:
    """zbar on the frame as it is (``failed`` stays empty: zbar reports only what it read)."""
    return stage_zbar(gray)


def zbar_sharpen(gray: Gray) -> list[Code]:
    return zbar_read(_sharpened(gray), density=_density(gray), stage="sharpen")


def zbar_deskew(gray: Gray, near: Sequence[Point] | None = None) -> list[Code]:
    return _deskew(gray, near, lambda level, back: zbar_read(
        level, density=_density(level), back=back, stage="deskew"))


def zbar_invert(gray: Gray) -> list[Code]:
    return zbar_read(cv2.bitwise_not(gray), density=_density(gray), stage="invert")


def zbar_smooth(gray: Gray) -> list[Code]:
    """Noise: smooth, then one global (Otsu) threshold, zbar's answer to a noisy QR."""
    _, binary = cv2.threshold(cv2.GaussianBlur(gray, (3, 3), 0), 0, 255,
                              cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return zbar_read(binary, density=_density(gray), stage="smooth")


def zbar_enlarge(gray: Gray) -> list[Code]:
    enlarged = _enlarged(gray)
    if enlarged is None:
        return []
    big, back = enlarged
    return zbar_read(big, back=back, stage="enlarge")


def zbar_contrast(gray: Gray) -> list[Code]:
    if max(gray.shape) >= 800:
        return []
    return zbar_read(_equalised(gray), stage="contrast")


def _enlarged(gray: Gray) -> tuple[Gray, np.ndarray] | None:
    if max(gray.shape) >= 800:
        return None
    return _scaled(gray, 2.0 if max(gray.shape) < 400 else 1.5)


def stage_enlarge(gray: Gray) -> list[Code]:
    """Small photos: codes whose modules are a pixel or two wide."""
    enlarged = _enlarged(gray)
    if enlarged is None:
        return []
    big, back = enlarged
    return zxing_read(big, back=back, rotate=True, stage="enlarge")


def stage_contrast(gray: Gray) -> list[Code]:
    """Washed-out or dim photos: local contrast equalisation."""
    if max(gray.shape) >= 800:
        return []
    return zxing_read(_equalised(gray), rotate=True, stage="contrast")


def _equalised(gray: Gray) -> Gray:
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)


def stage_primary(gray: Gray, failed: set[str] | None = None) -> list[Code]:
    """zxing-cpp on the frame as it is: reads nearly everything, in a few milliseconds."""
    return zxing_read(gray, failed=failed)


Stage = Callable[[Gray], list[Code]]
FALLBACKS: tuple[tuple[str, Stage], ...] = (
    ("zbar", stage_zbar),
    ("sideways", stage_sideways),
    ("sharpen", stage_sharpen),
    ("deskew", stage_deskew),
    ("invert", stage_invert),
    ("smooth", stage_smooth),
    ("enlarge", stage_enlarge),
    ("contrast", stage_contrast),
)


ZBAR_FALLBACKS: tuple[tuple[str, Stage], ...] = (
    ("sharpen", zbar_sharpen),
    ("deskew", zbar_deskew),
    ("invert", zbar_invert),
    ("smooth", zbar_smooth),
    ("enlarge", zbar_enlarge),
    ("contrast", zbar_contrast),
)


class DecoderUnavailable(RuntimeError):
    """The decoder asked for is not installed; the message says what to install."""


@dataclass(frozen=True)
class Pipeline:
    """One decoder's pipeline: ``primary`` on every frame, ``fallbacks`` in turn, and its deskew
    (which takes the corners of a code seen nearby)."""

    decoder: str  # "zxing-cpp" or "zbar"
    symbologies: tuple[str, ...]  # what it can read (a screen should promise no more)
    primary: Callable[[Gray, dict[str, Corners] | None], list[Code]]
    fallbacks: tuple[tuple[str, Stage], ...]
    deskew: Callable[[Gray, Sequence[Point] | None], list[Code]]


def _has_zbar() -> bool:
    return importlib.util.find_spec("pyzbar") is not None


def pipeline_for(decoder: str = "auto") -> Pipeline:
    """The pipeline of ``decoder`` (one of DECODERS); raises DecoderUnavailable with what to
    install when it cannot be used here."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder is one of {', '.join(DECODERS)}, not {decoder!r}")
    if decoder == "auto":
        decoder = "zxing-cpp" if zxingcpp is not None else "zbar"
    if decoder == "zxing-cpp":
        if zxingcpp is None:
            raise DecoderUnavailable("zxing-cpp is not installed (pip install zxing-cpp), or "
                                     "choose the zbar decoder")
        # zbar is only a second opinion here: a build without it loses that stage, not the scan.
        fallbacks = FALLBACKS if _has_zbar() else tuple(f for f in FALLBACKS if f[0] != "zbar")
        return Pipeline("zxing-cpp", SYMBOLOGIES, stage_primary, fallbacks, stage_deskew)
    if not _has_zbar():
        raise DecoderUnavailable("neither zxing-cpp nor zbar is installed: install zxing-cpp, "
                                 "or pyzbar with the zbar library (Debian: libzbar0; "
                                 "python-for-android: the pyzbar and libzbar recipes)")
    return Pipeline("zbar", ZBAR_SYMBOLOGIES, zbar_primary, ZBAR_FALLBACKS, zbar_deskew)


def _unique(codes: list[Code]) -> list[Code]:
    seen: set[tuple[str, str]] = set()
    out = []
    for c in codes:
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)
    return out


def to_gray(image: np.ndarray) -> Gray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def decode(image: np.ndarray, decoder: str = "auto") -> list[Code]:
    """Every code in a still image: the decoder's primary stage, then each fallback until one
    reads something."""
    gray = to_gray(image)
    pipeline = pipeline_for(decoder)
    codes = pipeline.primary(gray, None)
    for _name, stage in pipeline.fallbacks:
        if codes:
            break
        codes = stage(gray)
    return _unique(codes)


class ImageUnreadable(ValueError):
    """An image file that cannot be opened as a picture."""


def load_image(path: Path) -> np.ndarray:
    if not path.is_file():
        raise ImageUnreadable("no such file" if not path.exists() else "not a file")
    data = np.fromfile(str(path), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if image is None:
        raise ImageUnreadable("not an image OpenCV can read (png, jpg, webp, bmp, tiff…)")
    return image


class LivePlan:
    """What one live frame gets: zxing-cpp, and when it reads nothing, the next fallback stage in
    turn.  A fallback that reads something goes first on the next frame (the code is probably
    still there, and tracking it keeps the highlight on it)."""

    def __init__(self, pipeline: Pipeline | None = None,
                 usable: Callable[[Code], bool] | None = None) -> None:
        self.pipeline = pipeline or pipeline_for("auto")
        # Codes that cannot be a card here (Debouncer.fits) are dropped as they are read: a
        # stage that reads only those must not stay first in line (zbar reading a slanted
        # EAN-13 as a "00…" number would keep zxing-cpp from ever reading the card).
        self._usable = usable
        # Stages that only help small photos do nothing on camera frames: leave them out.
        self.fallbacks = [f for f in self.pipeline.fallbacks
                          if f[0] not in ("enlarge", "contrast")]
        self._next = 0
        self._hot: tuple[str, Corners] | None = None
        self.saw_code = False  # the last frame had a code in it, read or not

    def run(self, gray: Gray) -> list[Code]:
        tried: set[str] = set()
        if self._hot is not None:
            # The stage that read the last frame goes first, near where it read: the card is
            # most likely still there, as it was (a tilted licence need not wait for zxing-cpp
            # to fail on it again).
            name, near = self._hot
            codes = self._keep(self._stage(name, gray, near))
            tried.add(name)
            if codes:
                return self._read(name, codes)
            self._hot = None
        failed: dict[str, Corners] = {}
        if "primary" not in tried:
            codes = self.pipeline.primary(gray, failed)
            self.saw_code = bool(codes or failed)
            codes = self._keep(codes)
            if codes or not self.fallbacks:
                return _unique(codes)
        if "PDF417" in failed and "deskew" not in tried:
            # zxing-cpp found a PDF417 it could not read: almost always a licence held at a
            # slant.  Levelling it is the stage that helps, so it does not wait for its turn.
            name, near = "deskew", failed["PDF417"]
        else:
            name, near = self.fallbacks[self._next % len(self.fallbacks)][0], None
            self._next += 1
            if name in tried:
                return []
        codes = self._keep(self._stage(name, gray, near))
        return self._read(name, codes) if codes else []

    def _keep(self, codes: list[Code]) -> list[Code]:
        return codes if self._usable is None else [c for c in codes if self._usable(c)]

    def _stage(self, name: str, gray: Gray, near: Sequence[Point] | None) -> list[Code]:
        if name == "deskew":
            return self.pipeline.deskew(gray, near)
        if name == "primary":
            return self.pipeline.primary(gray, None)
        return dict(self.fallbacks)[name](gray)

    def _read(self, name: str, codes: list[Code]) -> list[Code]:
        self.saw_code = True
        self._hot = (name, codes[0].corners) if name != "primary" else None
        return _unique(codes)


# --- debounce ---------------------------------------------------------------------------------


class Debouncer:
    """One identification per code held up.

    A code is new when it was not seen for ``forget_s`` seconds *and* ``forget_frames`` decoded
    frames: a different card is new at once, the same card again only after it has really left
    the view (a held card that glare or a busy processor keeps unread for a moment is not read
    twice).  A 1D code (Code 128, EAN-13) or a PDF417 must be read in two frames before it
    counts: on the virtual camera's moving cards, zxing-cpp and zbar now and then return a wrong
    number that still passes a 1D check digit, or a PDF417 garbled past its (low) error
    correction level.  Held up for long, a wrong number can come twice within a few frames, so a
    1D code or PDF417 counts only when, among the last ``confirm_frames`` frames' reads of its
    format, it was read at least twice *and* more often than every other text together.  A
    frame that reads two different texts of one format (a card carries one code, so one of
    them is wrong) is a vote against both, and neither counts while that frame is among the
    last ``confirm_frames``.  QR codes carry enough error
    correction to count at once.

    And an EAN-13 counts only in the shop's card format: it starts with one of
    ``ean13_prefixes`` (by default ``2``, GS1's in-store range that member cards are printed in;
    empty: any).  zbar reads some cards held at a slant as another EAN-13, the same one frame
    after frame and with a valid check digit (always "00…" in bench/scan_to_connect.py), which
    no vote can catch; a product's barcode names no member either.
    """

    CONFIRM = frozenset({"Code128", "EAN13", "PDF417"})

    def __init__(self, forget_s: float = 2.0, forget_frames: int = 20,
                 confirm_frames: int = 6, ean13_prefixes: Sequence[str] = IN_STORE) -> None:
        self.forget_s = forget_s
        self.ean13_prefixes = tuple(ean13_prefixes)
        self.forget_frames = forget_frames
        self.confirm_frames = confirm_frames
        self._frame = 0
        self._last_seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._reported: set[tuple[str, str]] = set()
        # (frame, format, the texts of that format the frame read) to confirm
        self._recent: deque[tuple[int, str, frozenset[str]]] = deque()

    def fits(self, code: Code) -> bool:
        """Whether ``code`` can be a member's card here (an EAN-13 in the shop's format)."""
        return (code.format != "EAN13" or not self.ean13_prefixes
                or code.text.startswith(self.ean13_prefixes))

    def update(self, codes: Sequence[Code], now: float) -> list[Code]:
        self._frame += 1
        codes = [c for c in codes if self.fits(c)]
        read: dict[str, set[str]] = {}
        for c in codes:
            if c.format in self.CONFIRM:
                read.setdefault(c.format, set()).add(c.text)
        self._recent.extend((self._frame, fmt, frozenset(texts)) for fmt, texts in read.items())
        while self._recent and self._frame - self._recent[0][0] >= self.confirm_frames:
            self._recent.popleft()
        new = []
        for c in codes:
            seen = self._last_seen.get(c.key)
            if seen is None or self._gone(seen, now):
                self._reported.discard(c.key)
                if c.format not in self.CONFIRM:
                    new.append(c)
                    self._reported.add(c.key)
            elif c.key not in self._reported and self._outvotes(c):
                new.append(c)  # a 1D code read again soon after, and more than any other
                self._reported.add(c.key)
            self._last_seen[c.key] = (now, self._frame)
        for key, seen in list(self._last_seen.items()):
            if self._gone(seen, now - 3 * self.forget_s):
                del self._last_seen[key]
                self._reported.discard(key)
        return new

    def _outvotes(self, code: Code) -> bool:
        votes: Counter[str | None] = Counter()
        for _, fmt, texts in self._recent:
            if fmt != code.format:
                continue
            if len(texts) > 1:
                if code.text in texts:
                    return False  # read beside another number of its kind: not yet
                votes[None] += 1
            else:
                votes.update(texts)
        mine = votes.pop(code.text, 0)
        return mine >= 2 and mine > sum(votes.values())

    def _gone(self, seen: tuple[float, int], now: float) -> bool:
        return now - seen[0] > self.forget_s and self._frame - seen[1] > self.forget_frames


# --- the worker -------------------------------------------------------------------------------


@dataclass
class Sighting:
    """The codes in the newest decoded frame, for the highlight."""

    codes: list[Code]
    frame_size: tuple[int, int]
    at: float


@dataclass
class ScannerStats:
    submitted: int = 0
    decoded: int = 0
    rested: int = 0  # frames skipped because nothing moved
    dropped: int = 0  # frames replaced by a newer one before the worker got to them
    busy_s: float = 0.0
    last_ms: deque[float] = field(default_factory=lambda: deque(maxlen=300))


class Scanner:
    """Decodes frames in a worker thread; the UI thread calls :meth:`submit` and :meth:`poll`.

    ``decoder``: one of DECODERS (see the module doc); ``ean13_prefixes``: the shop's EAN-13
    card format (:class:`Debouncer`).  ``clock`` is injectable for tests of the
    resting logic.  When nothing in front of the camera
    has moved for ``rest_after_s`` and no code was seen, it decodes ``rest_fps`` frames a second
    instead of every frame, which keeps an unattended kiosk's processor cool.
    """

    def __init__(self, *, forget_s: float = 2.0, rest_after_s: float = 2.0,
                 rest_fps: float = 4.0, motion_threshold: float = 3.0,
                 decoder: str = "auto", clock: Callable[[], float] = time.monotonic,
                 ean13_prefixes: Sequence[str] = IN_STORE) -> None:
        self.debouncer = Debouncer(forget_s, ean13_prefixes=ean13_prefixes)
        self.plan = LivePlan(pipeline_for(decoder), usable=self.debouncer.fits)
        self.decoder = self.plan.pipeline.decoder
        log.info("scanner decodes with %s", self.decoder)
        self.rest_after_s = rest_after_s
        self.rest_period = 1.0 / rest_fps
        self.motion_threshold = motion_threshold
        self.stats = ScannerStats()
        self._clock = clock
        self._cond = threading.Condition()
        self._slot: np.ndarray | None = None
        self._running = False
        self._thread: threading.Thread | None = None
        self._identified: deque[Code] = deque(maxlen=16)
        self._sighting: Sighting | None = None
        self._thumb: np.ndarray | None = None
        self._awake_until = clock() + rest_after_s  # a screen that just opened is watched
        self._last_decode = -math.inf

    def start(self) -> None:
        if self._thread is not None:
            return
        self._running = True
        self._awake_until = self._clock() + self.rest_after_s
        self._thread = threading.Thread(target=self._work, name="scanner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def submit(self, frame: np.ndarray) -> None:
        """Offer the newest frame; a frame still waiting is dropped for it."""
        with self._cond:
            if self._slot is not None:
                self.stats.dropped += 1
            self._slot = frame
            self.stats.submitted += 1
            self._cond.notify()

    def poll(self) -> tuple[list[Code], Sighting | None]:
        """New identifications since the last poll, and the newest sighting."""
        with self._cond:
            identified = list(self._identified)
            self._identified.clear()
            return identified, self._sighting

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._running and self._slot is None:
                    self._cond.wait()
                if not self._running:
                    return
                frame, self._slot = self._slot, None
            try:
                self._process(frame)
            except Exception:  # one bad frame must not end scanning for the shopper
                log.exception("decoding a frame failed")

    def process(self, frame: np.ndarray) -> list[Code]:
        """Decode one frame now, in the caller's thread (benchmarks, tests): new identifications."""
        return self._process(frame)

    def _process(self, frame: np.ndarray) -> list[Code]:
        started = time.perf_counter()
        now = self._clock()
        gray = to_gray(frame)
        if not self._awake(gray, now):
            self.stats.rested += 1
            return []
        codes = self.plan.run(gray)
        self._last_decode = now
        if self.plan.saw_code:
            self._awake_until = now + self.rest_after_s
        new = self.debouncer.update(codes, now)
        elapsed = time.perf_counter() - started
        with self._cond:
            self.stats.decoded += 1
            self.stats.busy_s += elapsed
            self.stats.last_ms.append(elapsed * 1000)
            self._sighting = Sighting(codes, (gray.shape[1], gray.shape[0]), now)
            self._identified.extend(new)
        for code in new:
            log.info("read %s (%d characters) by %s", code.format, len(code.text), code.stage)
        return new

    def _awake(self, gray: Gray, now: float) -> bool:
        thumb = cv2.resize(gray, (64, 36), interpolation=cv2.INTER_AREA).astype(np.int16)
        if self._thumb is not None and \
                float(np.abs(thumb - self._thumb).mean()) > self.motion_threshold:
            self._awake_until = now + self.rest_after_s
        self._thumb = thumb
        if now < self._awake_until:
            return True
        return now - self._last_decode >= self.rest_period
