"""Generate ``demo_customers.csv``: about 300 fictional Swedish customers, the same every run.

    python -m cashier_bridge.data.make_demo_customers [OUT.csv]

Fixed values that end-to-end tests and demos rely on (keep them in sync with the tests):

    customer_code 1001  Anna Andersson    personnummer 19850312-1249   mobile 070-123 45 67
                                          (+46701234567)  anna.andersson@example.com  Stamkund
    customer_code 1002  Erik Johansson    personnummer 19781120-4572   mobile 072-345 67 89
                                          (+46723456789)  no email
    customer_code 1003  Lars Nilsson      no personal ID               mobile 076-555 12 34
                                          (+46765551234)  no email

    NOT in the file (the new-member scenario):
                        personnummer 19900101-2351 (born 1990-01-01)   mobile 073-987 65 43
                                          (+46739876543)

All numbers are generated (valid Luhn check digit, real dates) and belong to nobody we know of;
e-mail addresses use the reserved example.com/.net/.org domains.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys
from pathlib import Path

from stdnum import luhn

from cashier_bridge.registry.csv_io import COLUMNS

OUT = Path(__file__).with_name("demo_customers.csv")
SEED = 20240312
COUNT = 300
FIRST_CODE = 1001

NEW_MEMBER_PERSONNUMMER = "19900101-2351"
NEW_MEMBER_MOBILE = "073-987 65 43"

FIXED = [
    {"customer_code": "1001", "first_name": "Anna", "last_name": "Andersson",
     "email": "anna.andersson@example.com", "phone": "070-123 45 67",
     "personal_id": "19850312-1249", "birth_date": "1985-03-12", "street": "Storgatan 12",
     "postal_code": "111 51", "city": "Stockholm", "country": "SE",
     "customer_group": "Stamkund", "marketing_consent": "yes"},
    {"customer_code": "1002", "first_name": "Erik", "last_name": "Johansson", "email": "",
     "phone": "072-345 67 89", "personal_id": "19781120-4572", "birth_date": "1978-11-20",
     "street": "Kungsgatan 4", "postal_code": "411 19", "city": "Göteborg", "country": "SE",
     "customer_group": "", "marketing_consent": "no"},
    {"customer_code": "1003", "first_name": "Lars", "last_name": "Nilsson", "email": "",
     "phone": "076-555 12 34", "personal_id": "", "birth_date": "", "street": "",
     "postal_code": "", "city": "", "country": "SE", "customer_group": "",
     "marketing_consent": ""},
]

WOMEN = ["Anna", "Maria", "Margareta", "Elisabeth", "Eva", "Kristina", "Birgitta", "Karin",
         "Marie", "Ingrid", "Christina", "Linnéa", "Sofia", "Kerstin", "Lena", "Helena", "Emma",
         "Sara", "Johanna", "Ebba", "Maja", "Alva", "Elsa", "Astrid", "Åsa", "Märta", "Ylva",
         "Agnes", "Wilma", "Saga", "Ingegärd", "Britt-Marie", "Selma", "Frida", "Malin"]
MEN = ["Lars", "Mikael", "Anders", "Johan", "Per", "Erik", "Karl", "Peter", "Jan", "Thomas",
       "Hans", "Daniel", "Fredrik", "Stefan", "Mats", "Magnus", "Oskar", "William", "Hugo",
       "Axel", "Olle", "Göran", "Björn", "Åke", "Sören", "Jörgen", "Håkan", "Nils", "Gustav",
       "Ludvig", "Elias", "Viktor", "Örjan", "Bengt", "Sven"]
SURNAMES = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
            "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson",
            "Bengtsson", "Jönsson", "Lindberg", "Jakobsson", "Magnusson", "Lindström",
            "Olofsson", "Lindqvist", "Lindgren", "Berg", "Axelsson", "Bergström", "Lundberg",
            "Lundgren", "Lundqvist", "Mattsson", "Berglund", "Fredriksson", "Sandberg",
            "Henriksson", "Forsberg", "Sjöberg", "Wallin", "Engström", "Eklund", "Danielsson",
            "Håkansson", "Lundin", "Björk", "Bergman", "Gunnarsson", "Holm", "Wikström",
            "Samuelsson", "Isaksson", "Fransson", "Bergqvist", "Nyström", "Holmberg",
            "Arvidsson", "Löfgren", "Söderberg", "Nyberg", "Blomqvist", "Claesson", "Nordström",
            "Mårtensson", "Lundström", "Ali", "Mohammed", "Åberg", "Öberg", "Ström", "Åström"]
# (city, postcode prefixes, streets)
CITIES = [
    ("Stockholm", ["111", "113", "114", "116", "118", "120"],
     ["Drottninggatan", "Götgatan", "Hornsgatan", "Sveavägen", "Odengatan"]),
    ("Göteborg", ["411", "412", "413", "414", "416"],
     ["Vasagatan", "Linnégatan", "Avenyn", "Första Långgatan", "Övre Husargatan"]),
    ("Malmö", ["211", "212", "214", "216"],
     ["Södra Förstadsgatan", "Amiralsgatan", "Bergsgatan", "Regementsgatan"]),
    ("Uppsala", ["752", "753", "754"],
     ["Dragarbrunnsgatan", "Kungsängsgatan", "Luthagsesplanaden"]),
    ("Västerås", ["721", "722", "723"], ["Stora Gatan", "Kopparbergsvägen", "Vasagatan"]),
    ("Örebro", ["702", "703", "703"], ["Drottninggatan", "Rudbecksgatan", "Järntorgsgatan"]),
    ("Linköping", ["582", "583", "584"], ["Storgatan", "Ågatan", "Drottninggatan"]),
    ("Helsingborg", ["252", "253", "254"], ["Kullagatan", "Järnvägsgatan", "Södra Storgatan"]),
    ("Jönköping", ["553", "554", "555"], ["Östra Storgatan", "Barnarpsgatan", "Klostergatan"]),
    ("Umeå", ["903", "904", "907"], ["Rådhusesplanaden", "Kungsgatan", "Skolgatan"]),
    ("Luleå", ["972", "973", "974"], ["Storgatan", "Smedjegatan", "Köpmangatan"]),
    ("Visby", ["621", "622"], ["Adelsgatan", "Hästgatan", "Strandgatan"]),
]
GROUPS = ["Stamkund"] * 6 + ["Personal"] + ["Företag"] + [""] * 12
MOBILE_PREFIXES = ["070", "072", "073", "076", "079"]
DOMAINS = ["example.com", "example.net", "example.org"]
_ASCII = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "ü": "u", "-": ""})


def _personnummer(rng: random.Random, birth: dt.date, female: bool, taken: set[str]) -> str:
    while True:
        # The ninth digit (the last of the serial) is even for women, odd for men.
        serial = rng.randrange(0, 500) * 2 + (0 if female else 1)
        nine = f"{birth:%y%m%d}{serial:03d}"
        number = f"{birth:%Y%m%d}-{serial:03d}{luhn.calc_check_digit(nine)}"
        if number not in taken:
            taken.add(number)
            return number


def _mobile(rng: random.Random, taken: set[str]) -> str:
    while True:
        digits = f"{rng.randrange(0, 10_000_000):07d}"
        number = f"{rng.choice(MOBILE_PREFIXES)}-{digits[:3]} {digits[3:5]} {digits[5:]}"
        if number not in taken:
            taken.add(number)
            return number


def _email(first: str, last: str, rng: random.Random, taken: set[str]) -> str:
    base = f"{first}.{last}".lower().translate(_ASCII)
    style = rng.randrange(3)
    local = base if style == 0 else (f"{first[0]}{last}".lower().translate(_ASCII)
                                     if style == 1 else f"{base}{rng.randrange(50, 99)}")
    email = f"{local}@{rng.choice(DOMAINS)}"
    n = 2
    while email in taken:
        email = f"{local}{n}@{email.split('@')[1]}"
        n += 1
    taken.add(email)
    return email


def rows(count: int = COUNT, seed: int = SEED) -> list[dict[str, str]]:
    rng = random.Random(seed)
    pnr_taken = {row["personal_id"] for row in FIXED if row["personal_id"]}
    pnr_taken.add(NEW_MEMBER_PERSONNUMMER)
    phones_taken = {row["phone"] for row in FIXED} | {NEW_MEMBER_MOBILE}
    emails_taken = {row["email"] for row in FIXED if row["email"]}
    out = [dict(row) for row in FIXED]
    for code in range(FIRST_CODE + len(FIXED), FIRST_CODE + count):
        female = rng.random() < 0.5
        first = rng.choice(WOMEN if female else MEN)
        last = rng.choice(SURNAMES)
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 66))
        city, prefixes, streets = rng.choice(CITIES)
        has_pnr = rng.random() < 0.8
        has_email = rng.random() < 0.75
        out.append({
            "customer_code": str(code),
            "first_name": first,
            "last_name": last,
            "email": _email(first, last, rng, emails_taken) if has_email else "",
            "phone": _mobile(rng, phones_taken) if rng.random() < 0.9 else "",
            "personal_id": _personnummer(rng, birth, female, pnr_taken) if has_pnr else "",
            "birth_date": birth.isoformat() if has_pnr or rng.random() < 0.3 else "",
            "street": f"{rng.choice(streets)} {rng.randrange(1, 80)}",
            "postal_code": f"{rng.choice(prefixes)} {rng.randrange(10, 99)}",
            "city": city,
            "country": "SE",
            "customer_group": rng.choice(GROUPS),
            "marketing_consent": rng.choice(["yes", "yes", "no", ""]),
        })
    return out


def write(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows())


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
