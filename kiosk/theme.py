"""Brand colours and the layout unit shared by every screen."""

from __future__ import annotations

DESIGN_SIZE = (1280, 800)

PRIMARY = (0.043, 0.431, 0.310, 1)  # deep green
PRIMARY_DARK = (0.031, 0.318, 0.227, 1)
PRIMARY_SOFT = (0.878, 0.945, 0.918, 1)
ACCENT = (0.949, 0.663, 0.231, 1)  # amber
BACKGROUND = (0.957, 0.965, 0.961, 1)
SURFACE = (1, 1, 1, 1)
TEXT = (0.110, 0.169, 0.153, 1)
MUTED = (0.357, 0.420, 0.400, 1)
LINE = (0.851, 0.875, 0.867, 1)
WARN_TEXT = (0.643, 0.239, 0.153, 1)
WARN_SOFT = (0.988, 0.925, 0.902, 1)
WHITE = (1, 1, 1, 1)
PREVIEW_BACKGROUND = (0.090, 0.118, 0.110, 1)  # behind the camera picture before it arrives
HIGHLIGHT = (0.259, 0.871, 0.525, 1)  # the outline on a code the camera has read


def unit_for(width: int, height: int) -> float:
    """Pixels per design pixel: the layout is drawn for 1280×800 and scaled to fit."""
    return min(width / DESIGN_SIZE[0], height / DESIGN_SIZE[1])
