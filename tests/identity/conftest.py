import datetime as dt
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Pinned so that century resolution and "expired" do not change as years pass.
TODAY = dt.date(2025, 6, 1)
