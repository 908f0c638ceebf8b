"""Issue 17's promise: adding a customer field is one entry in the field table plus its
migration.  A copy of the product gets exactly that (a ``shoe_size`` entry appended to
``FIELDS`` and a migration adding its column), and then, through the real app on a fresh SQLite
file, the new field is in the table, on the record, in the API's models and OpenAPI document,
taken and shown by the API, in a CSV export and read from a CSV import, on the back office's
form and profile, in the GDPR export, emptied by an erase and shown by the merge preview."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from cashier_bridge.registry.migrate import head_revision

ROOT = Path(__file__).resolve().parents[2]

ENTRY = '''
    Field("shoe_size", int, "Shoe size", _bounded("shoe_size", 60), csv=("shoe_size",),
          highest=60),
'''

MIGRATION = '''
import sqlalchemy as sa
from alembic import op

revision = "shoe"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("shoe_size", sa.BigInteger()))


def downgrade() -> None:
    op.drop_column("customers", "shoe_size")
'''

# Runs in the copy: every check says what it looked at.
SCRIPT = r'''
import dataclasses, io, json, re, sys
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

import cashier_bridge
from cashier_bridge.config import Settings
from cashier_bridge.customers import fields as table
from cashier_bridge.registry import Registry
from cashier_bridge.registry.records import CustomerRecord
from cashier_bridge.registry.schema import customers
from cashier_bridge.registry.staff import StaffRole
from cashier_bridge.web.api import models
from cashier_bridge.web.app import create_app

tmp = Path(sys.argv[1])
assert Path(cashier_bridge.__file__).is_relative_to(tmp), cashier_bridge.__file__
assert table.FIELDS[-1].name == "shoe_size"

reg = Registry.open(f"sqlite:///{tmp / 'shoes.db'}")
with reg.engine.connect() as conn:
    stored = {c["name"]: c for c in sa.inspect(conn).get_columns("customers")}
assert "shoe_size" in stored and "shoe_size" in customers.c, "the column"
assert "shoe_size" in {f.name for f in dataclasses.fields(CustomerRecord)}, "the record"
for model in (models.Customer, models.CustomerIn, models.CustomerPatch):
    assert "shoe_size" in model.model_fields, model.__name__

reg.staff.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
reg.staff.add("root", "pw-for-the-test", StaffRole.admin, display_name="Root")
token = reg.api_tokens.create("test", "admin").token
settings = Settings(db_url=str(reg.engine.url), shop_name="Skobutiken")
client = TestClient(create_app(settings, reg), follow_redirects=False)
client.__enter__()  # the app's lifespan: its registry
api = {"Authorization": f"Bearer {token}"}

schemas = client.get("/openapi.json").json()["components"]["schemas"]
assert schemas["Customer"]["properties"]["shoe_size"], "OpenAPI: shown"
assert schemas["CustomerIn"]["properties"]["shoe_size"], "OpenAPI: taken"

made = client.post("/api/v1/customers", headers=api, json={
    "first_name": "Anna", "last_name": "Andersson", "phone": "0701234567", "shoe_size": 38})
assert made.status_code == 201, made.text
assert made.json()["shoe_size"] == 38
anna = made.json()["id"]
too_big = client.post("/api/v1/customers", headers=api, json={
    "first_name": "Bo", "last_name": "Berg", "shoe_size": 61})
assert too_big.status_code == 422, too_big.text
assert client.patch(f"/api/v1/customers/{anna}", headers=api,
                    json={"shoe_size": 39}).json()["shoe_size"] == 39

out = io.StringIO()
reg.imports.export(out)
header, first = out.getvalue().splitlines()[:2]
assert "shoe_size" in header.split(","), header
assert dict(zip(header.split(","), first.split(",")))["shoe_size"] == "39", first
report = reg.imports.run(io.StringIO("first_name,last_name,mobile,shoe_size\n"
                                    "Bo,Berg,0701234568,44\nCai,Lind,0701234569,huge\n"))
assert report.created == 1, report
assert report.errors == [(3, "shoe_size: 'huge' is not a whole number")], report.errors
bo = reg.customers.search("Berg")[0]
assert bo.shoe_size == 44, bo

def field_of(page, name):
    found = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    return found.group(0) if found else None

form = client.get("/admin/login")
csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
signed_in = client.post("/admin/login", data={"csrf": csrf, "username": "root",
                                               "password": "pw-for-the-test"})
assert signed_in.status_code == 303, signed_in.text
new = client.get("/admin/customers/new")
assert field_of(new.text, "shoe_size"), "the new-customer form"
assert "Shoe size" in new.text
csrf = re.search(r'name="csrf" value="([^"]+)"', new.text).group(1)
request = re.search(r'name="request" value="([^"]+)"', new.text).group(1)
posted = client.post("/admin/customers/new", data={
    "csrf": csrf, "request": request, "first_name": "Dan", "last_name": "Berg",
    "shoe_size": "45"})
assert posted.status_code == 303, posted.text
dan = reg.customers.search("Dan Berg")[0]
assert dan.shoe_size == 45, dan
edit = client.get(f"/admin/customers/{bo.id}/edit")
assert 'value="44"' in field_of(edit.text, "shoe_size"), field_of(edit.text, "shoe_size")
profile = client.get(f"/admin/customers/{bo.id}").text
assert re.search(r'<dt>Shoe size</dt><dd id="shoe-size">44</dd>', profile), "the profile"

merge = client.get(f"/admin/customers/{dan.id}/merge?other={bo.id}").text
row = re.search(r'<tr id="row-shoe_size">.*?</tr>', merge, re.S)
assert row and "Shoe size" in row.group(0) and "45" in row.group(0), "the merge preview"

exported = client.get(f"/admin/customers/{bo.id}/export.json").json()
assert exported["profile"]["shoe_size"] == 44, exported["profile"]
page = client.get(f"/admin/customers/{bo.id}/export").text
assert re.search(r"<dt>Shoe size</dt><dd>44</dd>", page), "the GDPR export page"
confirm = client.get(f"/admin/customers/{bo.id}/delete").text
assert "<li>Shoe size 44</li>" in confirm, "the delete page says it goes"

assert client.delete(f"/api/v1/customers/{bo.id}", headers=api).status_code == 204
with reg.engine.connect() as conn:
    left = conn.execute(sa.select(customers.c.shoe_size).where(customers.c.id == bo.id))
    assert left.scalar_one() is None, "erase"
print("ok")
'''


def test_a_field_is_one_entry_in_the_table_plus_its_migration(tmp_path: Path) -> None:
    copy = tmp_path / "product"
    shutil.copytree(ROOT / "cashier_bridge", copy / "cashier_bridge",
                    ignore=shutil.ignore_patterns("__pycache__"))
    table = copy / "cashier_bridge" / "customers" / "fields.py"
    source = table.read_text(encoding="utf-8")
    end = "\n)\n\nBY_NAME"  # the end of FIELDS
    assert source.count(end) == 1
    table.write_text(source.replace(end, "\n" + ENTRY.strip("\n") + end), encoding="utf-8")
    (copy / "cashier_bridge" / "migrations" / "versions" / "9999_shoe_size.py").write_text(
        MIGRATION.format(head=head_revision()), encoding="utf-8")

    env = {**os.environ, "PYTHONPATH": str(copy), "SELFREG_DATA_DIR": str(tmp_path / "data"),
           "SELFREG_CONFIG": str(tmp_path / "none.toml")}
    env.pop("SELFREG_PERSONAL_ID_KEY", None)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT), str(copy)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip().endswith("ok")
