"""Cookies the bridge sets, named once: the console's websocket, its API calls and its sign-in
page must agree on them."""

from __future__ import annotations

# A browser signed in as a lane's register (the cashier console) holds its own device token
# here: HttpOnly, so the page's scripts never see it; the websocket handshake and API calls
# carry it.
DEVICE_COOKIE = "selfreg_device"

# A back-office (/admin) staff sign-in: a session token, HttpOnly and SameSite=Strict, path "/"
# so that the REST API can accept the same sign-in.
STAFF_COOKIE = "selfreg_staff"
