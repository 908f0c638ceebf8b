"""What the desk's camera panel can hold up, and the phone panel's presets.

Every gallery item is an item string of the virtual camera (``simulator.virtual_camera``), so a
recorded ``present`` step names it the same way a scenario file does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulator.scenarios import demo_rows, known_customer, unknown_personnummer

# ICAO 9303's own TD1 specimen (Utopia, "Anna Maria Eriksson"): a made-up person.  The kiosk
# reads codes, not printed text, so the ID card's MRZ is held up as the 2D code some national
# ID cards carry it in.
MRZ_TD1 = ("I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\n"
           "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")


@dataclass(frozen=True)
class GalleryItem:
    label: str  # what the button says
    item: str  # the virtual camera's item string


def corpus_dir() -> Path | None:
    """Real photos of codes: ../shared/corpus/barcodes next to the clone, else the copy in
    tests/fixtures (the clone alone has those)."""
    root = Path(__file__).resolve().parents[2]
    for folder in (root.parent / "shared" / "corpus" / "barcodes",
                   root / "tests" / "fixtures" / "barcodes"):
        if folder.is_dir():
            return folder
    return None


def photos(limit_per_kind: int = 1) -> list[GalleryItem]:
    """One photo of each kind of code (QR, PDF417, Code 128, EAN-13) from the corpus."""
    folder = corpus_dir()
    if folder is None:
        return []
    chosen: list[GalleryItem] = []
    for kind_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        kind = kind_dir.name.rsplit("-", 1)[0]
        if any(g.label.startswith(f"photo {kind}") for g in chosen):
            continue
        pictures = sorted(p for p in kind_dir.iterdir()
                          if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
        for picture in pictures[:limit_per_kind]:
            chosen.append(GalleryItem(f"photo {kind} ({picture.name})", f"photo:{picture}"))
    return chosen


def gallery() -> list[GalleryItem]:
    anna = known_customer()["customer_code"].strip()
    other = next(r["customer_code"].strip() for r in demo_rows()
                 if r["customer_code"].strip() not in ("", anna))
    return [
        GalleryItem("nothing", "nothing"),
        GalleryItem(f"card QR {anna} (Anna)", f"card-qr:{anna}"),
        GalleryItem(f"card Code128 {anna}", f"card-code128:{anna}"),
        GalleryItem(f"card EAN-13 {other}", f"card-ean13:{other}"),
        GalleryItem("vCard on a phone (new)", "vcard"),
        GalleryItem("MECARD on a phone (new)", "mecard"),
        GalleryItem("AAMVA licence (new)", "licence"),
        GalleryItem("MRZ ID card (TD1)", f"qr:{MRZ_TD1}"),
        GalleryItem("unreadable: web address", "garbage"),
        *photos(),
    ]


@dataclass(frozen=True)
class PhonePreset:
    label: str
    first_name: str
    last_name: str
    phone: str
    personal_id: str
    member: bool


def phone_presets() -> list[PhonePreset]:
    anna = known_customer()
    return [
        PhonePreset("known: Anna", anna["first_name"], anna["last_name"], anna["phone"],
                    anna["personal_id"], False),
        PhonePreset("new member", "Sara", "Lind", "070 999 12 34", unknown_personnummer(), True),
        PhonePreset("invalid input", "", "Lind", "12", "198503121248", False),
    ]
