"""The member card the phone keeps: the customer code as a QR code, an inline SVG (no request,
no image library on the phone)."""

from __future__ import annotations

import re

import qrcode
import qrcode.image.svg


def qr_svg(data: str) -> str:
    """A compact SVG of ``data`` as a QR code (black on white, quiet zone included)."""
    qr = qrcode.QRCode(border=2, box_size=10, error_correction=qrcode.constants.ERROR_CORRECT_M,
                       image_factory=qrcode.image.svg.SvgPathImage)
    qr.add_data(data)
    qr.make(fit=True)
    svg = qr.make_image().to_string(encoding="unicode")
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    # Sized by the page's CSS, and white behind the code so a saved image reads in a dark
    # gallery too.
    svg = re.sub(r' width="[^"]*" height="[^"]*"', ' role="img" aria-label="QR"', svg, count=1)
    return re.sub(r"(<svg[^>]*>)", r'\1<rect width="100%" height="100%" fill="#fff"/>', svg,
                  count=1)
