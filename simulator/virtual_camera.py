"""The virtual camera: what a shopper holds up to the PAX E800's customer-facing camera.

It renders 1280×720 frames at 30 fps of a customer card (EAN-13, Code 128 or QR of a customer
code), a phone showing a vCard or MECARD QR, the back of an AAMVA driving licence (PDF417), a
code that identifies nobody, or nothing; held by an unsteady hand (position, rotation and tilt
drift), with motion blur, defocus, glare, sensor noise and JPEG artefacts.  Everything is drawn
from a seed and the frame number, so frame *n* of a run is the same in every run.  It can also
play a folder of photos (e.g. ../shared/corpus/barcodes), each held up for a while.

It is a frame source like the real camera (:class:`kiosk.camera.FrameSource`); the kiosk uses it
with the setting ``camera = "virtual:<options>"``, options separated by commas:

``show=ITEM``      what is held up at the start (default ``nothing``)
``control=PATH``   a file holding one ITEM; rewrite it to hold up something else (the simulator
                   and the tests present cards this way).  It may instead hold a JSON object
                   ``{"item": ITEM, "flaws": {"distance": 2.0, ...}}``: the item held as the
                   QA desk's sliders say (distance, angle, blur, glare, light)
``photos=DIR``     play the photos in DIR instead
``seed=N``         the seed (default 1); ``hold=S`` seconds per photo (default 2)

ITEM is one of ``card-ean13:CODE``, ``card-code128:CODE``, ``card-qr:CODE`` (CODE a customer code
such as 1001), ``vcard[:PATH]``, ``mecard[:TEXT]``, ``licence[:PATH]`` (an AAMVA payload file),
``qr:TEXT``, ``photo:PATH`` (a real photo of a code, held up like a card), ``garbage`` (a QR
of a long web address: a code, but no identity) or ``nothing``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import zxingcpp

from kiosk.camera.base import CameraUnavailable, Pacer, ThreadedSource

Image = np.ndarray

SIZE = (1280, 720)
CARD = (856, 540)  # ID-1 (85.6 × 54 mm) at 10 px/mm
# How near the camera each thing is held (share of the frame height): a licence's PDF417 has
# small modules, so shoppers (and the screen's hint) bring it closer than a loyalty card.
NEAR = {"licence": 0.72, "photo": 0.9, "vcard": 0.85, "mecard": 0.85, "qr": 0.85, "garbage": 0.85}
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")

# Fictional people (not among the demo customers) so that a scan proposes a new member.
DEFAULT_VCARD = ("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lind;Sara;;;\r\nFN:Sara Lind\r\n"
                 "TEL;TYPE=CELL:+46 70 999 12 34\r\nEMAIL:sara.lind@example.com\r\nEND:VCARD\r\n")
DEFAULT_MECARD = "MECARD:N:Berg,Jonas;TEL:+46709998877;EMAIL:jonas.berg@example.com;;"
DEFAULT_AAMVA = (
    "@\n\x1e\rANSI 636020070002DL00410224ZC02650010DLDAQ102367099\nDCSLINDQVIST\nDDEN\n"
    "DACMAJA\nDDFN\nDADELLEN\nDDGN\nDCAR\nDCBNONE\nDCDNONE\nDBD08082023\nDBB07131992\n"
    "DBA07132031\nDBC2\nDAU066 IN\nDAYBLU\nDAG12 STORGATAN\nDAISTOCKHOLM\nDAJCO\n"
    "DAK111510000  \nDCFNONE\nDCGUSA\nDDAF\nDDB06012013\nZCZCA\nZCB\n")
GARBAGE = "https://example.com/offers/spring?campaign=2024-04&utm_source=poster&ref=" + "x" * 24


@dataclass(frozen=True)
class Item:
    """What the shopper holds up: ``kind`` (card-ean13, card-code128, card-qr, vcard, mecard,
    licence, qr, garbage, nothing) and the code's payload."""

    kind: str
    payload: str = ""

    @property
    def format(self) -> str:
        """The symbology of the code on it, as zxing-cpp names its BarcodeFormat."""
        return {"card-ean13": "EAN13", "card-code128": "Code128", "licence": "PDF417",
                "nothing": ""}.get(self.kind, "QRCode")


def ean13_for(code: str) -> str:
    """A customer code as an in-store EAN-13 (prefix 2, zero padded, check digit)."""
    digits = ("2" + code.rjust(11, "0"))[-12:]
    if not digits.isdigit():
        raise ValueError(f"an EAN-13 card needs a numeric customer code, not {code!r}")
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def parse_item(text: str) -> Item:
    """``kind[:argument]`` as in the module doc; raises ValueError with what is wrong."""
    kind, _, arg = text.strip().partition(":")
    kind = kind.strip().lower()
    if kind in ("card-ean13", "card-code128", "card-qr"):
        if not arg:
            raise ValueError(f"{kind} needs a customer code, e.g. {kind}:1001")
        return Item(kind, ean13_for(arg) if kind == "card-ean13" else arg)
    if kind in ("vcard", "licence", "license"):
        default = DEFAULT_VCARD if kind == "vcard" else DEFAULT_AAMVA
        payload = _read_payload(arg) if arg else default
        return Item("vcard" if kind == "vcard" else "licence", payload)
    if kind == "mecard":
        return Item(kind, arg or DEFAULT_MECARD)
    if kind == "qr":
        if not arg:
            raise ValueError("qr needs a text, e.g. qr:hello")
        return Item(kind, arg)
    if kind == "garbage":
        return Item(kind, GARBAGE)
    if kind == "photo":
        if not arg or not Path(arg).is_file():
            raise ValueError(f"photo needs an image file, e.g. photo:corpus/qr.webp ({arg!r} "
                             "is none)")
        return Item(kind, arg)
    if kind in ("nothing", ""):
        return Item("nothing")
    raise ValueError(f"unknown item {text!r}: one of card-ean13:CODE, card-code128:CODE, "
                     "card-qr:CODE, vcard[:PATH], mecard[:TEXT], licence[:PATH], qr:TEXT, "
                     "photo:PATH, garbage, nothing")


def _read_payload(path: str) -> str:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    return raw.decode("utf-8-sig", errors="replace")


# --- drawing what is held up ------------------------------------------------------------------


def barcode_image(payload: str, fmt: str, scale: int, **options: Any) -> Image:
    """The code as black on white, one module ``scale`` pixels, with its quiet zone."""
    barcode = zxingcpp.create_barcode(payload, getattr(zxingcpp.BarcodeFormat, fmt), **options)
    return np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=scale))


def _paste_fit(dst: Image, src: Image, box: tuple[int, int, int, int]) -> None:
    """Paste ``src`` (grey) centred in ``box`` (x, y, w, h), shrunk to fit, never enlarged."""
    x, y, w, h = box
    sh, sw = src.shape[:2]
    f = min(1.0, w / sw, h / sh)
    if f < 1.0:
        src = cv2.resize(src, (max(1, int(sw * f)), max(1, int(sh * f))),
                         interpolation=cv2.INTER_AREA)
        sh, sw = src.shape[:2]
    ox, oy = x + (w - sw) // 2, y + (h - sh) // 2
    dst[oy:oy + sh, ox:ox + sw] = cv2.cvtColor(src, cv2.COLOR_GRAY2BGR) if src.ndim == 2 else src


def _text(img: Image, text: str, org: tuple[int, int], scale: float, color: tuple[int, ...],
          thick: int = 2) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)


def draw_item(item: Item) -> Image:
    """The object held up, flat and upright, as a BGR image (its own size)."""
    w, h = CARD
    if item.kind.startswith("card-"):
        card = np.full((h, w, 3), (79, 110, 11), np.uint8)  # the shop's green (BGR)
        _text(card, "Kundklubben", (40, 80), 1.6, (255, 255, 255), 3)
        _text(card, "MEDLEMSKORT", (40, 125), 0.9, (220, 240, 230), 2)
        cv2.rectangle(card, (40, 170), (w - 40, h - 40), (255, 255, 255), -1)
        scale = {"card-ean13": 4, "card-code128": 4, "card-qr": 10}[item.kind]
        _paste_fit(card, barcode_image(item.payload, item.format, scale), (50, 175, w - 100, 320))
        return card
    if item.kind == "licence":
        card = np.full((h, w, 3), (235, 225, 205), np.uint8)
        _text(card, "DRIVER LICENSE  -  BACK", (40, 55), 0.9, (90, 60, 30), 2)
        cv2.rectangle(card, (30, 80), (w - 30, h - 30), (250, 250, 250), -1)
        # Ten columns fill the card's width; rows twice as high as a module is wide, as printed
        # on licences (zxing-cpp writes square rows, which no licence has).
        code = barcode_image(item.payload, "PDF417", 3, columns=10)
        code = cv2.resize(code, (code.shape[1], code.shape[0] * 2),
                          interpolation=cv2.INTER_NEAREST)
        _paste_fit(card, code, (36, 86, w - 72, h - 122))
        return card
    if item.kind in ("vcard", "mecard", "qr", "garbage"):
        pw, ph = 430, 860  # a phone, screen up
        phone = np.full((ph, pw, 3), (30, 30, 32), np.uint8)
        cv2.rectangle(phone, (18, 60), (pw - 18, ph - 60), (250, 250, 250), -1)
        _text(phone, "Mitt kort" if item.kind != "garbage" else "Erbjudande", (40, 120), 1.0,
              (40, 40, 40), 2)
        code = barcode_image(item.payload, "QRCode", 8)
        _paste_fit(phone, code, (30, 160, pw - 60, pw - 60))
        return phone
    if item.kind == "photo":
        # A real photo of a code (e.g. ../shared/corpus/barcodes), held up like a card.
        photo = cv2.imread(item.payload, cv2.IMREAD_COLOR)
        if photo is None:
            raise ValueError(f"cannot read the photo {item.payload}")
        return photo
    raise ValueError(f"nothing to draw for {item.kind}")


# --- the scene and the camera's flaws ---------------------------------------------------------


def _background(rng: np.random.Generator, size: tuple[int, int]) -> Image:
    """A shop seen from the register: soft shapes and a light gradient, no code-like edges."""
    w, h = size
    small = rng.integers(60, 200, (9, 16, 3), dtype=np.uint8)
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    ramp = np.linspace(0.75, 1.1, h, dtype=np.float32)[:, None, None]
    return np.clip(bg.astype(np.float32) * ramp, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Flaws:
    """How hard a frame is: how far the hand strays and how bad the camera is."""

    shake: float = 1.0  # scales drift, rotation and tilt
    blur: float = 1.0  # scales motion blur and defocus
    noise: float = 1.0  # scales sensor noise
    glare: float = 1.0  # probability scale of a glare spot
    jpeg: tuple[int, int] = (55, 90)  # JPEG quality range
    # The QA desk's sliders: how far away (1 = an arm's length; 2 = twice as far, half the
    # size), how steeply it is held (degrees, turned and tilted away) and the light (1 = the
    # shop's; below 1 darker, above 1 washed out).
    distance: float = 1.0
    angle: float = 0.0
    light: float = 1.0


class Scene:
    """Renders frame *n* of an item held up, from the seed alone."""

    def __init__(self, seed: int = 1, size: tuple[int, int] = SIZE,
                 flaws: Flaws | None = None) -> None:
        self.seed = seed
        self.size = size
        self.flaws = flaws or Flaws()
        rng = np.random.default_rng(seed)
        self.background = _background(rng, size)
        w, h = size
        # A bank of noise tiles: drawing fresh Gaussian noise for 2.7 M values costs ~20 ms a
        # frame; a random tile rolled by a random offset looks the same to a decoder.
        self._noise = [rng.normal(0, 1, (h, w)).astype(np.float32) for _ in range(4)]
        self._phase = rng.uniform(0, 2 * math.pi, 8)
        self._items: dict[Item, Image] = {}

    def item_image(self, item: Item) -> Image:
        if item not in self._items:
            self._items[item] = draw_item(item)
        return self._items[item]

    def pose(self, n: int, fps: float, shape: tuple[int, int], near: float = 0.55
             ) -> np.ndarray:
        """Where the item's corners are in frame *n*: a slow, smooth, seeded wander."""
        t = n / fps
        p, s = self._phase, self.flaws.shake
        w, h = self.size
        ih, iw = shape
        cx = w / 2 + s * 70 * math.sin(0.7 * t + p[0]) + s * 25 * math.sin(2.3 * t + p[1])
        cy = h / 2 + s * 35 * math.sin(0.9 * t + p[2]) + s * 15 * math.sin(2.9 * t + p[3])
        held = self.flaws.angle
        angle = math.radians(s * 12 * math.sin(0.5 * t + p[4]) + held)
        fill = near + 0.07 * math.sin(0.4 * t + p[5])  # share of the frame height it takes
        fill /= max(0.2, self.flaws.distance)
        scale = fill * h / max(ih, iw * h / w * 0.9)
        # out of the image plane: perspective; a card held at an angle is also tilted away
        tilt_x = s * 0.08 * math.sin(0.6 * t + p[6]) + 0.5 * math.sin(math.radians(held))
        tilt_y = s * 0.06 * math.sin(0.8 * t + p[7])
        hw, hh = iw * scale / 2, ih * scale / 2
        corners = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]], np.float32)
        # A tilted card is nearer the camera on one side: that side looks larger.
        depth = 1 + tilt_x * corners[:, 0] / hw + tilt_y * corners[:, 1] / hh
        corners = corners / depth[:, None]
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]],
                       np.float32)
        corners = corners @ rot.T + np.array([cx, cy], np.float32)
        # The shopper sees the preview and keeps the whole thing in view.
        low, high = corners.min(0), corners.max(0)
        size = np.array([w, h], np.float32)
        shift = np.where(low < 8, 8 - low, 0) + np.where(high > size - 8, size - 8 - high, 0)
        return corners + shift

    def render(self, item: Item, n: int, fps: float = 30.0) -> Image:
        rng = np.random.default_rng([self.seed, n])
        frame = self.background.copy()
        if item.kind != "nothing":
            art = self.item_image(item)
            ih, iw = art.shape[:2]
            near = NEAR.get(item.kind, 0.55)
            dst = self.pose(n, fps, (ih, iw), near)
            src = np.array([[0, 0], [iw, 0], [iw, ih], [0, ih]], np.float32)
            matrix = cv2.getPerspectiveTransform(src, dst)
            cv2.warpPerspective(art, matrix, self.size, dst=frame, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_TRANSPARENT)
            # The flaws that depend on the item are applied around it only: the background is
            # smooth already, and a full-frame filter would cost the simulator a core.
            x0, y0 = np.maximum(dst.min(0).astype(int) - 12, 0)
            x1, y1 = np.minimum(dst.max(0).astype(int) + 12, self.size)
            roi = frame[y0:y1, x0:x1]
            if roi.size:
                self._glare(roi, dst - (x0, y0), rng)
                # The hand moves between frames: smear along the motion.
                motion = dst.mean(0) - self.pose(n - 1, fps, (ih, iw), near).mean(0)
                self._motion_blur(roi, motion * self.flaws.blur)
                sigma = rng.uniform(0.2, 1.3) * self.flaws.blur  # defocus
                if sigma > 0.5:
                    roi[...] = cv2.GaussianBlur(roi, (0, 0), sigma)
        return self._sensor(frame, rng)

    def _glare(self, roi: Image, corners: np.ndarray, rng: np.random.Generator) -> None:
        if rng.random() > 0.35 * self.flaws.glare:
            return
        a, b = rng.random(2)
        top = corners[0] + a * (corners[1] - corners[0])
        centre = top + b * (corners[3] - corners[0])
        # Drawn and blurred at a quarter of the size: a soft spot has no detail to lose.
        h, w = roi.shape[:2]
        spot = np.zeros((h // 4 + 1, w // 4 + 1), np.uint8)
        axes = (int(rng.uniform(10, 30)), int(rng.uniform(5, 15)))
        cv2.ellipse(spot, (int(centre[0] / 4), int(centre[1] / 4)), axes,
                    float(rng.uniform(0, 180)), 0, 360, int(rng.uniform(90, 200)), -1)
        spot = cv2.resize(cv2.GaussianBlur(spot, (0, 0), 4), (w, h))
        cv2.add(roi, cv2.cvtColor(spot, cv2.COLOR_GRAY2BGR), dst=roi)

    @staticmethod
    def _motion_blur(roi: Image, motion: np.ndarray) -> None:
        length = float(np.hypot(*motion))
        if length < 1.5:
            return
        k = min(9, int(length) | 1)
        kernel = np.zeros((k, k), np.float32)
        angle = math.atan2(float(motion[1]), float(motion[0]))
        c, s = math.cos(angle), math.sin(angle)
        for i in range(k):
            d = i - k // 2
            kernel[round(k // 2 + d * s), round(k // 2 + d * c)] = 1
        roi[...] = cv2.filter2D(roi, -1, kernel / kernel.sum())

    def _sensor(self, frame: Image, rng: np.random.Generator) -> Image:
        f = self.flaws
        if f.light != 1.0:
            frame = cv2.convertScaleAbs(frame, alpha=max(0.0, f.light))
        if f.noise > 0:
            tile = self._noise[int(rng.integers(len(self._noise)))]
            shift = int(rng.integers(0, tile.shape[1]))
            noise = np.roll(tile, shift, axis=1) * (rng.uniform(1.0, 4.0) * f.noise)
            frame = cv2.add(frame, cv2.merge([noise, noise, noise]), dtype=cv2.CV_8U)
        quality = int(rng.integers(f.jpeg[0], f.jpeg[1] + 1))
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def photo_frames(folder: Path, size: tuple[int, int] = SIZE) -> list[Image]:
    """The photos in ``folder`` (and below), each placed unscaled (or shrunk to fit) in the middle
    of a grey frame, the way a code is seen at arm's length."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
    frames = []
    for path in paths:
        photo = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if photo is None:
            continue
        frame = np.full((size[1], size[0], 3), 128, np.uint8)
        _paste_fit(frame, photo, (0, 0, *size))
        frames.append(frame)
    if not frames:
        raise ValueError(f"no photos in {folder}")
    return frames


# --- the frame source -------------------------------------------------------------------------


class VirtualCamera(ThreadedSource):
    """The virtual camera as a frame source: frames rendered at ``fps`` in its own thread."""

    def __init__(self, item: Item | None = None, *, seed: int = 1, size: tuple[int, int] = SIZE,
                 fps: int = 30, control: Path | None = None, photos: Path | None = None,
                 hold_s: float = 2.0, flaws: Flaws | None = None) -> None:
        super().__init__("virtual camera")
        self.item = item or Item("nothing")
        self.fps = fps
        self.control = control
        self.photos = photos
        self.hold_s = hold_s
        self._scene_args: dict[str, Any] = {"seed": seed, "size": size, "flaws": flaws}
        self._scene: Scene | None = None
        self._photos: list[Image] = []
        self._control_seen: tuple[int, int] | None = None
        self._n = 0
        self._pacer: Pacer | None = None
        self.item_errors = 0

    @classmethod
    def from_spec(cls, spec: str, *, size: tuple[int, int] = SIZE, fps: int = 30
                  ) -> VirtualCamera:
        """From the part of ``camera = "virtual:..."`` after the colon (see the module doc)."""
        options: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, eq, value = part.partition("=")
            if not eq or key not in ("show", "control", "photos", "seed", "hold"):
                raise ValueError(f"virtual camera option {part!r}: expected show=, control=, "
                                 "photos=, seed= or hold=")
            options[key] = value
        try:
            seed = int(options.get("seed", "1"))
            hold = float(options.get("hold", "2"))
        except ValueError:
            raise ValueError("virtual camera: seed is a whole number and hold seconds") from None
        return cls(parse_item(options.get("show", "nothing")), seed=seed, size=size, fps=fps,
                   control=Path(options["control"]) if "control" in options else None,
                   photos=Path(options["photos"]) if "photos" in options else None, hold_s=hold)

    @classmethod
    def frame_source(cls, options: str, *, size: tuple[int, int] = SIZE, fps: int = 30,
                     mirror: bool = False) -> VirtualCamera:
        """The ``virtual`` frame source the simulator registers with the kiosk (pyproject.toml,
        group ``selfreg.frame_sources``): ``camera = "virtual:<options>"``.  Its frames are never
        mirrored: it draws codes as a shopper holds them."""
        try:
            return cls.from_spec(options, size=size, fps=fps)
        except ValueError as exc:
            raise CameraUnavailable(str(exc), source="virtual camera") from None

    def present(self, item: Item | str) -> None:
        """Hold up something else (in-process callers; other processes use the control file)."""
        self.item = parse_item(item) if isinstance(item, str) else item

    def set_flaws(self, flaws: Flaws) -> None:
        """Change how hard the frames are from the next frame on (the QA desk's sliders)."""
        self._scene_args["flaws"] = flaws
        scene = self._scene
        if scene is not None:
            scene.flaws = flaws  # one reference swapped: the render thread sees old or new

    def _start(self) -> tuple[int, int]:
        if self.photos is not None:
            try:
                self._photos = photo_frames(self.photos, self._scene_args["size"])
            except ValueError as exc:
                raise CameraUnavailable(str(exc), source=self.description) from None
        self._scene = Scene(**{k: v for k, v in self._scene_args.items() if v is not None})
        self._pacer = Pacer(self.fps)
        return self._scene.size

    def _grab(self) -> Image | None:
        assert self._scene is not None and self._pacer is not None
        self._pacer.wait()
        self._check_control()
        n, self._n = self._n, self._n + 1
        if self._photos:
            per_photo = max(1, int(self.hold_s * self.fps))
            return self._photos[(n // per_photo) % len(self._photos)].copy()
        return self._scene.render(self.item, n, self.fps)

    def _check_control(self) -> None:
        if self.control is None:
            return
        try:
            st = os.stat(self.control)
        except FileNotFoundError:
            return
        seen = (st.st_mtime_ns, st.st_size)
        if seen == self._control_seen:
            return
        self._control_seen = seen
        try:
            item, flaws = read_control(self.control.read_text(encoding="utf-8"))
            self.item = item
            self.set_flaws(flaws)
        except (OSError, ValueError) as exc:
            # A bad command must not stop the camera; say so where QA looks.
            self.item_errors += 1
            from kiosk.camera.base import log

            log.warning("virtual camera: ignoring %s: %s", self.control, exc)

    def _stop(self) -> None:
        self._scene = None


FLAW_KEYS = ("distance", "angle", "blur", "glare", "light")  # what the desk's sliders set


def held(values: dict[str, float] | None = None) -> Flaws:
    """The flaws of an item held as the desk's sliders say; what they do not name is the
    camera's default."""
    values = values or {}
    unknown = set(values) - set(FLAW_KEYS)
    if unknown:
        raise ValueError(f"unknown flaws {', '.join(sorted(unknown))} ({', '.join(FLAW_KEYS)})")
    return Flaws(**{k: float(v) for k, v in values.items()})


def read_control(text: str) -> tuple[Item, Flaws]:
    """A control file's item and flaws: a bare ITEM, or JSON with ``item`` and ``flaws``.  No
    item string starts with ``{`` (each starts with its kind), so the two cannot be confused."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("item"), str):
            raise ValueError('expected {"item": ITEM, "flaws": {...}}')
        return parse_item(data["item"]), held(data.get("flaws"))
    return parse_item(text), Flaws()


def present(control: Path, item: str, flaws: dict[str, float] | None = None) -> None:
    """Hold ``item`` up to a running virtual camera that watches ``control`` (atomic write),
    held as ``flaws`` says (the default way if None)."""
    parse_item(item)  # fail here, in the caller, on a typo
    held(flaws)
    text = item if flaws is None else json.dumps({"item": item, "flaws": flaws})
    tmp = control.with_name(f".{control.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, control)


def frames(item: Item | str, count: int, *, seed: int = 1, fps: float = 30.0,
           flaws: Flaws | None = None, start: int = 0) -> Iterator[Image]:
    """``count`` frames of ``item`` held up (benchmarks and tests; no thread, no pacing)."""
    scene = Scene(seed, flaws=flaws)
    it = parse_item(item) if isinstance(item, str) else item
    for n in range(start, start + count):
        yield scene.render(it, n, fps)
