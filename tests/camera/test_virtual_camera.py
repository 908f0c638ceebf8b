"""The simulator's virtual camera: seeded frames of what a shopper holds up, through the same
frame-source interface as a real camera, steered by a control file or playing photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.camera import CameraUnavailable, FrameSource, make_camera
from kiosk.scanner import decode, load_image
from simulator.virtual_camera import VirtualCamera, ean13_for, frames, parse_item, present

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VCARD = FIXTURES / "vcard" / "zxing-parser-tests" / "AddressBookParsedResultTestCase_vcard_01.vcf"
AAMVA = FIXTURES / "aamva" / "c0shea-IdParser" / "Licenses_CO.txt"


def test_the_same_seed_gives_the_same_frames_and_another_seed_others() -> None:
    a = list(frames("card-ean13:1001", 3, seed=7))
    b = list(frames("card-ean13:1001", 3, seed=7))
    c = list(frames("card-ean13:1001", 3, seed=8))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (720, 1280, 3) and a[0].dtype == np.uint8
    assert not np.array_equal(a[0], a[1])  # the hand moves and the sensor is noisy


@pytest.mark.parametrize(("item", "fmt", "text"), [
    ("card-ean13:1001", "EAN13", ean13_for("1001")),
    ("card-code128:1001", "Code128", "1001"),
    ("card-qr:1042", "QRCode", "1042"),
    (f"vcard:{VCARD}", "QRCode", VCARD.read_bytes().decode("utf-8")),
    ("mecard:MECARD:N:Berg,Jonas;TEL:+46709998877;;", "QRCode",
     "MECARD:N:Berg,Jonas;TEL:+46709998877;;"),
    (f"licence:{AAMVA}", "PDF417", AAMVA.read_bytes().decode("utf-8-sig")),
])
def test_what_is_held_up_reads_back_as_its_payload(item: str, fmt: str, text: str) -> None:
    reads = [decode(f) for f in frames(item, 6, seed=1)]
    hits = [codes for codes in reads if [(c.format, c.text) for c in codes] == [(fmt, text)]]
    assert len(hits) >= 4, reads


def test_an_ean13_card_carries_the_customer_code_with_a_valid_check_digit() -> None:
    assert ean13_for("1001") == "2000000010014"
    with pytest.raises(ValueError, match="numeric customer code"):
        ean13_for("A17")


@pytest.mark.parametrize(("text", "message"), [
    ("card-qr", "needs a customer code"),
    ("passport", "unknown item 'passport'"),
    ("licence:/no/such/file.txt", "cannot read /no/such/file.txt"),
])
def test_a_wrong_item_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_item(text)


def test_make_camera_gives_the_virtual_camera_behind_the_frame_source_interface() -> None:
    camera = make_camera("virtual:show=card-qr:1001,seed=2", fps=60)
    assert isinstance(camera, VirtualCamera) and isinstance(camera, FrameSource)
    camera.open()
    try:
        assert camera.size == (1280, 720)
        frame = camera.wait_frame(5)
    finally:
        camera.close()
    assert frame is not None
    assert [(c.format, c.text) for c in decode(frame)] == [("QRCode", "1001")]


def test_a_bad_virtual_camera_spec_is_a_clear_camera_error() -> None:
    with pytest.raises(CameraUnavailable, match="virtual camera option 'colour=red'"):
        make_camera("virtual:colour=red")


def test_the_control_file_changes_what_is_held_up(tmp_path: Path) -> None:
    control = tmp_path / "camera"
    camera = VirtualCamera.from_spec(f"control={control}", fps=60)
    with camera:
        assert decode(camera.wait_frame(5)) == []  # type: ignore[arg-type]
        present(control, "card-code128:1003")
        for _ in range(100):
            codes = decode(camera.wait_frame(5))  # type: ignore[arg-type]
            if codes:
                break
        assert [c.text for c in codes] == ["1003"]
        present(control, "nothing")
        for _ in range(100):
            if not decode(camera.wait_frame(5)):  # type: ignore[arg-type]
                break
        else:
            pytest.fail("the card was never taken away")


def test_present_refuses_a_typo_before_the_camera_sees_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown item"):
        present(tmp_path / "camera", "card_qr:1001")
    assert not (tmp_path / "camera").exists()


def test_a_folder_of_photos_plays_one_after_another() -> None:
    folder = FIXTURES / "barcodes" / "qrcode-1"
    photos = sorted(folder.glob("*.webp"))
    expected = {c.text for p in photos for c in decode(load_image(p))}
    camera = make_camera(f"virtual:photos={folder},hold=0.2", fps=30)  # 6 frames a photo
    seen: set[str] = set()
    with camera:  # type: ignore[attr-defined]
        for _ in range(2 * 6 * len(photos)):  # twice round the folder at most
            frame = camera.wait_frame(5)  # type: ignore[attr-defined]
            assert frame is not None and frame.shape == (720, 1280, 3)
            seen |= {c.text for c in decode(frame)}
            if seen == expected:
                break
    assert len(expected) >= 3
    assert seen == expected


def test_an_empty_photo_folder_is_a_camera_error(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable, match="no photos in"):
        make_camera(f"virtual:photos={tmp_path}").open()
