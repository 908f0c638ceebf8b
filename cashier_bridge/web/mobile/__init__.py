"""Via mobil: the phone page a kiosk's QR code leads to (``/m/<code>``), served by the bridge.

Pure parts (codes, the form's validation, what the phone is shown, consent versions) are in
their own modules; :mod:`.routes` is the HTTP face and leaves every lane change to the lane
machine through the hub.
"""
