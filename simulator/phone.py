"""A shopper's phone for Via mobil: reads the QR code off the kiosk's screen with the decoder
the camera uses, opens the page and sends the form over HTTP as a browser would.

Plain HTTP and HTML, no browser: the browser itself is tested with Playwright (tests/mobile);
this is what the simulator's scenarios and the QA desk need to walk the flow.
"""

from __future__ import annotations

import html
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

# The form's hidden fields (the receipt, the language, the version of each consent text shown):
# sent back as a browser sends them.
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    text: str  # the page's visible words, tags dropped

    def says(self, words: str) -> bool:
        return words.casefold() in self.text.casefold()


def read_qr(display: str) -> list[str]:
    """What a phone camera pointed at the customer screen on ``display`` reads."""
    import numpy as np
    from PIL import ImageGrab

    from kiosk.scanner import decode

    shot = ImageGrab.grab(xdisplay=display).convert("RGB")
    return [code.text for code in decode(np.asarray(shot)[:, :, ::-1].copy())]


class Phone:
    def __init__(self, language: str = "sv") -> None:
        self.language = language
        self._hidden: dict[str, str] = {}
        # The page remembers this phone by a cookie once it has sent the form, as in a browser.
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.url = ""  # the form's page
        self.status_url = ""  # where the phone follows the steps after sending

    def open(self, url: str) -> Page:
        self.url = url
        page, raw = self._fetch(url)
        self._hidden = {name: html.unescape(value) for name, value in _HIDDEN.findall(raw)}
        return page

    def send(self, first_name: str, last_name: str, phone: str, personal_id: str, *,
             member: bool = False, consents: tuple[str, ...] = ()) -> Page:
        """Fill in the form opened last and send it; the page the phone shows next."""
        fields = {**self._hidden, "first_name": first_name, "last_name": last_name,
                  "phone": phone, "personal_id": personal_id}
        if member:
            fields["member"] = "on"
        fields.update({f"consent_{purpose}": "on" for purpose in consents})
        page, _ = self._fetch(self.url, urllib.parse.urlencode(fields).encode())
        self.status_url = page.url
        return page

    def reload(self) -> Page:
        """The page again (after sending: the steps so far), as a refresh would show it."""
        return self._fetch(self.status_url or self.url)[0]

    def _fetch(self, url: str, data: bytes | None = None) -> tuple[Page, str]:
        request = urllib.request.Request(url, data=data, headers={
            "Accept-Language": self.language, "Accept": "text/html"})
        try:
            with self._opener.open(request, timeout=10) as response:
                raw = response.read().decode("utf-8", "replace")
                status, final = response.status, response.url
        except urllib.error.HTTPError as err:
            raw = err.read().decode("utf-8", "replace")
            status, final = err.code, url
        return Page(final, status, _visible(raw)), raw


def _visible(raw: str) -> str:
    body = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", raw)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
