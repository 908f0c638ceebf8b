"""The Via mobil QR code as a Kivy texture: crisp square modules at any screen size."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import qrcode
from kivy.graphics.texture import Texture

MODULE_PX = 8  # texture pixels per module; the widget scales it with nearest-neighbour


@lru_cache(maxsize=4)
def qr_texture(text: str) -> Texture:
    """Black modules on white with a quiet zone, as phone cameras expect."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    dark = np.array(code.get_matrix(), dtype=bool)
    pixels = np.where(dark, 0, 255).astype(np.uint8)
    pixels = np.kron(pixels, np.ones((MODULE_PX, MODULE_PX), dtype=np.uint8))
    pixels = np.ascontiguousarray(pixels[::-1])  # Kivy's texture rows run bottom to top
    texture = Texture.create(size=(pixels.shape[1], pixels.shape[0]), colorfmt="luminance")
    texture.blit_buffer(pixels.tobytes(), colorfmt="luminance", bufferfmt="ubyte")
    texture.mag_filter = texture.min_filter = "nearest"
    return texture
