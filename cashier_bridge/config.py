"""One place for every setting of bridge, kiosk and simulator.

Precedence, highest first: command-line flags (applied by each CLI), environment variables
(``SELFREG_*``), the TOML file, then defaults that work on a fresh machine.  The TOML file is
``$SELFREG_CONFIG`` if set, else ``selfreg.toml`` in the user's config directory.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cashier_bridge.web.origins import Origin

APP_NAME = "selfreg"
Language = Literal["sv", "en", "nl"]


def data_dir() -> Path:
    return Path(os.environ.get("SELFREG_DATA_DIR") or platformdirs.user_data_dir(APP_NAME))


def config_file() -> Path:
    explicit = os.environ.get("SELFREG_CONFIG")
    if explicit:
        return Path(explicit)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "selfreg.toml"


def default_db_url() -> str:
    return f"sqlite:///{data_dir() / 'selfreg.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SELFREG_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=1, le=65535)
    bridge_url: str = "ws://127.0.0.1:8765"
    db_url: str = Field(default_factory=default_db_url)
    # SQLite only: how long a write waits for another connection's write lock (a backup, a
    # stuck job) before the devices are told "unavailable". The simulator lowers it so that a
    # database outage scenario does not spend 15 s per attempt.
    db_busy_timeout_s: float = Field(default=15.0, gt=0, le=600)
    # The key personnummer fingerprints are made with (64 hexadecimal characters, what a
    # personal-id.key file holds). Kept out of the database so that a copied database cannot
    # be turned back into personnummer. Default: the file personal-id.key beside a SQLite
    # registry, or in the data directory for PostgreSQL. Every bridge of a chain needs the
    # same key (SELFREG_PERSONAL_ID_KEY, or the same file).
    personal_id_key: str | None = None
    lane: str = "lane-1"
    language: Language = "sv"
    phone_region: str = "SE"
    # Seconds a screen may stay untouched before the kiosk returns to a safe state.
    screen_timeout_s: float = Field(default=45.0, gt=0)
    # Seconds the welcome screen is shown before personal data leaves the screen.
    welcome_s: float = Field(default=8.0, gt=0)
    # Devices prove they belong to a lane with a token from `selfreg-bridge pair`, on loopback
    # too: any web page the till's browser opens can reach 127.0.0.1. "auto" (what older files
    # say) is read as "required". "off" is for development on a loopback-only bridge: it is
    # refused beyond loopback and warned about at every start.
    auth: Literal["required", "auto", "off"] = "required"
    # Web pages besides the bridge's own (public_url, and its address as each connection reached
    # it) whose scripts may open its websockets, as scheme://host[:port]: e.g. the console
    # opened under another name, "http://kassa-3.local:8765". SELFREG_ALLOWED_ORIGINS takes
    # them separated by commas or spaces.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    device_token: str | None = None  # this kiosk's (or simulated register's) pairing token
    # Lanes the bridge holds at once (a device attached or a sale open); a hello naming one more
    # is refused with `lane_limit`. Idle lanes with no device are let go (their state is saved).
    max_lanes: int = Field(default=2000, ge=1)
    # How often the bridge looks for devices unpaired while connected (`selfreg-bridge unpair`
    # runs in another process) and sends them away: a revoked register must stop hearing of
    # customers within seconds, not at its next reconnect.
    revocation_check_s: float = Field(default=5.0, gt=0, le=300)
    log_level: str = "INFO"
    log_json: bool = False
    # Skanna ID's camera: a device index ("0" is /dev/video0), a device path or a video file,
    # "virtual" (the simulator's camera; "virtual:<options>", see simulator/virtual_camera.py) or
    # "none" (Skanna ID then says there is no camera; the other methods work as always).
    camera: str = "0"
    camera_size: str = Field(default="1280x720", pattern=r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")
    camera_fps: int = Field(default=30, ge=1, le=120)
    # The camera hands over mirror images (some USB webcams do): flip them back so codes read.
    # The preview on screen is always shown mirrored, like a mirror, whatever this says.
    camera_mirror: bool = False
    # The EAN-13s Skanna ID takes as member cards: those starting with one of these prefixes,
    # separated by commas ("2": GS1's in-store range, as selfreg prints them; a shop whose cards
    # carry its own GS1 company prefix adds it; empty: every EAN-13).  Other EAN-13s are
    # products, or a card misread at a slant (kiosk/scanner.py, Debouncer).
    scan_ean13_prefixes: str = Field(default="2", pattern=r"^[0-9, ]*$")
    # --- Via mobil: the phone page the kiosk's QR code leads to ---------------------------------
    # The shop's name as the phone page shows it (and the holder of the data unless
    # data_controller says otherwise).
    shop_name: str = "Butiken"
    data_controller: str | None = None
    # Where phones reach this bridge, e.g. "https://kassa.example.se"; the QR code is
    # <public_url>/m/<token>. Default: http(s)://<host>:<port>, with this machine's LAN address
    # when the bridge listens on every interface.
    public_url: str | None = None
    # How long a phone code on the kiosk stays valid (seconds); the kiosk renews an unused one.
    mobile_token_s: float = Field(default=180.0, gt=0)
    # Offer the phone code already on the choices screen (no touch needed on the kiosk).
    mobile_on_choices: bool = False
    # The key phone codes are derived with (kept out of the database, so a leaked database holds
    # no live codes). Default: a key file in the data directory. Every bridge of a chain must be
    # given the same key (SELFREG_MOBILE_TOKEN_KEY).
    mobile_token_key: str | None = None
    # The full privacy notice the phone page links to (default: the bridge's own /m/privacy).
    privacy_url: str | None = None
    # Marketing consents the phone page asks for: purpose -> {language: text}. Each box starts
    # unticked; the consent log records the version (a hash) of the text the shopper saw, so a
    # changed text is a new version by itself.
    consent_texts: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "marketing": {
            "sv": "Ja, skicka mig erbjudanden och nyheter via sms och e-post.",
            "en": "Yes, send me offers and news by text message and e-mail.",
            "nl": "Ja, stuur mij aanbiedingen en nieuws per sms en e-mail.",
        },
        "personalised_offers": {
            "sv": "Ja, anpassa erbjudanden efter vad jag handlar.",
            "en": "Yes, tailor offers to what I buy.",
            "nl": "Ja, stem aanbiedingen af op wat ik koop.",
        },
    })
    # Serve HTTPS with this certificate and key (PEM files); phones then reach the page safely
    # over the shop's Wi-Fi without a proxy in front.
    tls_cert: str | None = None
    tls_key: str | None = None
    # Personnummer look-ups (creating, checking or changing a customer with one) each caller —
    # a staff member, an API token, a lane's cashier console — may make in a minute; then 429
    # until the oldest leaves the minute. A masked number leaves ~1,000 candidates to try.
    personal_id_lookups_per_minute: int = Field(default=5, ge=1, le=1000)
    # Ange ID look-ups one lane's kiosk may make in a minute, found or not; then the kiosk pauses
    # Ange ID and says how long (a stranger trying number after number). A till serves a shopper
    # a minute or so; only benchmarks and fault tests that drive a lane flat out raise it.
    ange_id_lookups_per_minute: int = Field(default=5, ge=1)
    # Requests one client address may make to the sign-in pages (back office, cashier console)
    # in a minute; more get 429 before any work is done. Each sign-in is two (the page, the
    # form); failed ones are also counted per address and username across a chain.
    sign_in_requests_per_minute: int = Field(default=20, ge=2)
    # Requests one address may make to the phone page per minute (pages, field checks, live
    # updates); more get 429 with Retry-After. A shopper's visit takes a few dozen; raise it when
    # many phones reach the bridge through one address (a proxy that hides theirs, a NAT).
    mobile_requests_per_minute: int = Field(default=240, ge=1)
    # --- The customer screen as a kiosk on a till -----------------------------------------------
    # Which monitor the kiosk's window goes on: a name from `xrandr --listmonitors` (e.g.
    # "HDMI-2") or its index there ("1"). None: where the window system puts it.
    kiosk_display: str | None = None
    # Kiosk mode: the whole chosen monitor, borderless, no cursor, screen blanking off, and no
    # way out but the exit PIN.
    kiosk_fullscreen: bool = False
    # The digits staff type on the kiosk (after a long press in its top left corner) to leave
    # kiosk mode; None: the kiosk cannot be left from its screen. Kept in the 0640 config file.
    kiosk_exit_pin: str | None = Field(default=None, pattern=r"^[0-9]{4,12}$")

    @field_validator("kiosk_display", mode="before")
    @classmethod
    def _display(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value  # `kiosk_display = 1` in TOML

    @field_validator("kiosk_exit_pin", mode="before")
    @classmethod
    def _exit_pin(cls, value: object) -> object:
        if isinstance(value, int):
            raise ValueError('write the PIN in quotes, e.g. kiosk_exit_pin = "0471": as a number '
                             "it would lose its leading zeros")
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        if isinstance(value, list):
            for entry in value:
                if not isinstance(entry, str) or Origin.parse(entry) is None:
                    raise ValueError(f"{entry!r} is not a web origin: give scheme://host[:port],"
                                     " e.g. http://kassa-3.local:8765")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml)


def tokens_required(settings: Settings) -> bool:
    return settings.auth != "off"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def auth_refusal(settings: Settings) -> str | None:
    """Why the bridge must not start with these settings' ``auth``, or None."""
    if settings.auth == "off" and not is_loopback(settings.host):
        return (f'auth = "off" lets any device in, and this bridge listens on {settings.host}: '
                'remove auth (pairing is the default) and pair each device with '
                '`selfreg-bridge pair --lane LANE --role kiosk|register`')
    return None


def load_settings(**overrides: object) -> Settings:
    """Settings from file and environment, with CLI flags (non-None values) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
