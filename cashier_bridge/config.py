"""One place for every setting of bridge, kiosk and simulator.

Precedence, highest first: command-line flags (applied by each CLI), environment variables
(``SELFREG_*``), the TOML file, then defaults that work on a fresh machine.  The TOML file is
``$SELFREG_CONFIG`` if set, else ``selfreg.toml`` in the user's config directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

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
    lane: str = "lane-1"
    language: Language = "sv"
    phone_region: str = "SE"
    # Seconds a screen may stay untouched before the kiosk returns to a safe state.
    screen_timeout_s: float = Field(default=45.0, gt=0)
    # Seconds the welcome screen is shown before personal data leaves the screen.
    welcome_s: float = Field(default=8.0, gt=0)
    # Devices prove they belong to a lane with a token from `selfreg-bridge pair`. "auto": only
    # when the bridge listens beyond this machine (a loopback-only bridge has no one to keep out).
    auth: Literal["auto", "required", "off"] = "auto"
    device_token: str | None = None  # this kiosk's (or simulated register's) pairing token
    # Lanes the bridge holds at once (a device attached or a sale open); a hello naming one more
    # is refused with `lane_limit`. Idle lanes with no device are let go (their state is saved).
    max_lanes: int = Field(default=2000, ge=1)
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
    if settings.auth != "auto":
        return settings.auth == "required"
    return settings.host not in ("127.0.0.1", "::1", "localhost")


def load_settings(**overrides: object) -> Settings:
    """Settings from file and environment, with CLI flags (non-None values) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
