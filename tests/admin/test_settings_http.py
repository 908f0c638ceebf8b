"""The shop's settings page (``/admin/settings``) through the bridge's real app: an admin changes
the shop's name, data controller, privacy notice and brand colours; every page shows the new
values; the change is audited with each value before and after; a bad value, a colour pair below
WCAG AA, a hand-made form and anyone but an admin are refused with the reason, saving nothing."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from admin.conftest import Clock, make_client
from admin.test_admin_http import USERS, login, staffed_sqlite, text_of
from cashier_bridge.permissions import Action, allowed
from cashier_bridge.registry import Registry
from cashier_bridge.registry.schema import audit_log, shop_settings
from cashier_bridge.shop.settings import Current, Stored, changes

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def registry(tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    reg = staffed_sqlite(tmp_path / "settings.db", clock)
    yield reg
    reg.close()


def stored(registry: Registry) -> dict[str, Any]:
    with registry.engine.connect() as conn:
        return {"settings": conn.execute(select(shop_settings)).all(),
                "audit": conn.execute(select(audit_log)).all()}


def post(client: TestClient, csrf: str, **values: str) -> Any:
    body = "&".join([f"csrf={csrf}", *(f"{k}={v}" for k, v in values.items())])
    return client.post("/admin/settings", content=body.replace("#", "%23"), headers=FORM)


def shown_value(page: Any, key: str) -> str:
    found = re.search(rf'<input id="{key}" name="{key}" type="[a-z]+" value="([^"]*)"', page.text)
    assert found, key
    return found.group(1)


def history(page: Any) -> list[tuple[str, str, str]]:
    """(setting, before, after) of each row of the page's history of changes."""
    section = page.text.split('id="history"')[1].split("</section>")[0]
    rows = re.findall(r"<tr><td>(.*?)</tr>", section, re.S)[0:]
    cells = [[html.unescape(re.sub("<[^>]+>", "", c)).strip()
              for c in re.findall(r"(?:^|<td>)(.*?)</td>", r, re.S)] for r in rows]
    return [(c[2], c[3], c[4]) for c in cells]


def test_until_saved_the_configuration_files_values_stand(client: TestClient) -> None:
    login(client, "root")
    page = client.get("/admin/settings")
    assert page.status_code == 200
    assert shown_value(page, "shop_name") == "Butiken Centrum"
    assert "From the configuration file" in text_of(page, "shop_name-source")
    assert shown_value(page, "brand_colour") == "#0b5cad"
    assert text_of(page, "brand_colour-source") == "The default."
    assert text_of(page, "no-history") == "Nothing has been changed here yet."


def test_an_admin_saves_and_every_page_shows_it(client: TestClient, registry: Registry) -> None:
    csrf = login(client, "root")
    saved = post(client, csrf, shop_name="Butiken  Söder ", data_controller="Butiken AB",
                 privacy_url="https://butiken.se/integritet", brand_colour="#1e5631",
                 brand_text_colour="#FFFFFF")
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/settings?done=saved"
    page = client.get("/admin/settings?done=saved")
    assert text_of(page, "saved").startswith("The settings were saved")
    assert shown_value(page, "shop_name") == "Butiken Söder"  # spaces as a person means them
    assert shown_value(page, "brand_colour") == "#1e5631"
    assert text_of(page, "shop_name-source").startswith("Saved here by staff member root")
    # The history: each changed value before and after (white was already the text colour).
    assert sorted(history(page)) == [
        ("Brand colour", "#0b5cad", "#1e5631"),
        ("Data controller", "(empty)", "Butiken AB"),
        ("Privacy notice address", "(empty)", "https://butiken.se/integritet"),
        ("Shop name", "Butiken Centrum", "Butiken Söder")]

    # The back office's bar, the console, the phone page and its style.
    assert "Butiken Söder · Back office" in client.get("/admin/customers").text
    assert "<b>Butiken Söder</b>" in client.get("/console/sign-in").text
    css = client.get("/console/brand.css")
    assert css.text == ":root{--brand:#1e5631;--on-brand:#ffffff}\n"
    assert css.headers["content-type"].startswith("text/css")
    privacy = client.get("/m/privacy").text
    assert "<b>Butiken Söder</b>" in privacy
    assert "header{background:#1e5631;color:#ffffff;" in privacy


def test_saving_the_same_values_changes_and_audits_nothing(client: TestClient,
                                                         registry: Registry) -> None:
    csrf = login(client, "root")
    before = stored(registry)
    assert post(client, csrf, shop_name="Butiken Centrum", brand_colour="#0B5CAD").status_code \
        == 303
    assert stored(registry) == before


@pytest.mark.parametrize(("values", "key", "reason"), [
    ({"shop_name": "  "}, "shop_name", "Shop name cannot be empty"),
    ({"shop_name": "x" * 61}, "shop_name", "Shop name is at most 60 characters (this is 61)"),
    ({"shop_name": "Kassa%07"}, "shop_name", "Shop name cannot hold control characters"),
    ({"privacy_url": "http://butiken.se/p"}, "privacy_url",
     "Privacy notice address must be a whole https:// address, like "
     "https://butiken.se/integritet"),
    ({"privacy_url": "javascript:alert(1)"}, "privacy_url",
     "Privacy notice address must be a whole https:// address, like "
     "https://butiken.se/integritet"),
    ({"brand_colour": "blurple"}, "brand_colour",
     "Brand colour is not a colour; write it like #0b5cad"),
    ({"brand_colour": "#ff000080"}, "brand_colour", "Brand colour must be solid (not transparent)"),
    ({"brand_colour": "#ffff00"}, "brand_text_colour",
     "Text on the brand colour is too hard to read on it: contrast 1.07:1, and at least 4.5:1 "
     "is needed (WCAG AA)"),
])
def test_a_bad_value_is_refused_with_its_reason_and_nothing_is_saved(
        client: TestClient, registry: Registry, values: dict[str, str], key: str,
        reason: str) -> None:
    csrf = login(client, "root")
    before = stored(registry)
    response = post(client, csrf, **values)
    assert response.status_code == 422
    assert text_of(response, f"{key}-error") == reason
    assert 'aria-invalid="true"' in response.text
    assert text_of(response, "error-summary").startswith("Nothing was saved: 1 setting")
    assert stored(registry) == before


def test_a_hand_made_form_naming_no_setting_saves_nothing(client: TestClient,
                                                          registry: Registry) -> None:
    csrf = login(client, "root")
    before = stored(registry)
    response = post(client, csrf, shop_name="Ny", db_url="sqlite:////tmp/x.db")
    assert response.status_code == 422
    assert text_of(response, "unknown-1") == "“db_url” is not a setting."
    assert stored(registry) == before  # not even the good value beside it


@pytest.mark.parametrize("username", list(USERS))
def test_only_an_admin_may_change_the_settings(client: TestClient, registry: Registry,
                                               username: str) -> None:
    csrf = login(client, username)
    before = stored(registry)
    response = post(client, csrf, shop_name="Hacked")
    role = USERS[username]
    if allowed(role, Action.manage_settings):
        assert response.status_code == 303
        return
    assert response.status_code == 403
    assert text_of(response, "reason") == (
        f"Only admins may change the settings; you are signed in as a {role.value}.")
    assert stored(registry) == before


def test_a_form_without_the_csrf_token_saves_nothing(client: TestClient,
                                                     registry: Registry) -> None:
    login(client, "root")
    before = stored(registry)
    response = post(client, "forged", shop_name="Hacked")
    assert response.status_code == 403
    assert "did not carry the security code" in text_of(response, "reason")
    assert stored(registry) == before


def test_a_save_on_one_process_shows_on_another_within_a_second(
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        clock: Clock) -> None:
    # Two apps over one database, as two processes of a chain: the other one's pages read the
    # settings again once what they hold is a second old.
    with make_client(registry, tmp_path, monkeypatch) as one, \
            make_client(registry, tmp_path, monkeypatch) as other:
        assert "<b>Butiken Centrum</b>" in other.get("/console/sign-in").text
        shop = other.app.state.shop  # type: ignore[attr-defined]
        assert post(one, login(one, "root"), shop_name="Butiken Norr").status_code == 303
        assert "<b>Butiken Norr</b>" in one.get("/console/sign-in").text
        shop.expire()  # what a second's wait does, without waiting for it
        assert "<b>Butiken Norr</b>" in other.get("/console/sign-in").text


def test_changes_reads_only_what_differs() -> None:
    from cashier_bridge.config import Settings

    current = Current({"brand_colour": Stored("#1e5631")}, Settings(shop_name="Butiken"))
    assert current.source("brand_colour").value == "back office"
    assert current.source("shop_name").value == "configuration file"
    assert current.controller == "Butiken"
    assert changes({"shop_name": "Butiken", "brand_colour": "rgb(0, 0, 0)"}, current) == {
        "brand_colour": "#000000"}


def test_an_admin_rewords_a_consent_and_the_log_keeps_the_old_text(
        client: TestClient, registry: Registry) -> None:
    from cashier_bridge.registry.consents import ConsentText
    from cashier_bridge.web.mobile.consent import version

    old = "Ja, skicka mig erbjudanden och nyheter via sms och e-post."
    registry.consents.remember_texts([ConsentText(version("marketing", "sv", old), "marketing",
                                                  "sv", old)])  # a phone showed it once
    csrf = login(client, "root")
    page = client.get("/admin/settings")
    assert (f'<textarea id="consent_texts.marketing.sv" name="consent_texts.marketing.sv" '
            f'rows="2" maxlength="500">{old}</textarea>') in page.text
    new = "Ja, skicka mig erbjudanden via sms (högst två i månaden)."
    saved = post(client, csrf, **{"consent_texts.marketing.sv": new.replace(" ", "+")})
    assert saved.status_code == 303, saved.text
    page = client.get("/admin/settings")
    assert f">{new}</textarea>" in page.text
    assert history(page) == [("marketing (Svenska)", old, new)]
    # The consent log's texts: the old one, shown before, is kept and marked as earlier.
    log = page.text.split('id="consent-log"')[1]
    assert re.search(rf"<td>{re.escape(old)}</td><td><code>v-[0-9a-f]{{10}}</code></td>"
                     r"<td>[^<]+</td><td>earlier</td>", log)


@pytest.mark.parametrize(("name", "text", "reason"), [
    ("consent_texts.marketing.sv", "   ",
     "marketing (Svenska) cannot be empty: the shopper must read what they agree to"),
    ("consent_texts.marketing.sv", "x" * 501,
     "marketing (Svenska) is at most 500 characters (this is 501)"),
    ("consent_texts.newsletter.sv", "Ja",
     "newsletter (Svenska) is no consent purpose of this shop (purposes are set in the "
     "configuration file)"),
    ("consent_texts.marketing.de", "Ja", "marketing (de) is in a language the screens do not "
     "speak"),
    ("consent_texts", "Ja", "“consent_texts” is not a setting"),
    ("shop_name.sv", "Ja", "“shop_name.sv” is not a setting"),
])
def test_a_bad_consent_text_is_refused_and_nothing_is_saved(
        client: TestClient, registry: Registry, name: str, text: str, reason: str) -> None:
    csrf = login(client, "root")
    before = stored(registry)
    response = post(client, csrf, **{name: text})
    assert response.status_code == 422
    if f'name="{name}"' in response.text:  # a text on the page: its reason beside it
        assert text_of(response, name.replace(".", "-") + "-error") == reason
    else:  # something the page never offered
        assert text_of(response, "unknown-1") == reason + "."
    assert stored(registry) == before
