"""The phone page's words in Swedish, English and Dutch, and which language a phone gets."""

from __future__ import annotations

LANGUAGES = ("sv", "en", "nl")
LANGUAGE_NAMES = {"sv": "Svenska", "en": "English", "nl": "Nederlands"}

TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "title": "Via mobil",
        "intro": "Fyll i dina uppgifter så kopplas du till ditt köp i kassan.",
        "first_name": "Förnamn",
        "last_name": "Efternamn",
        "phone": "Mobilnummer",
        "personal_id": "Personnummer",
        "personal_id_hint": "ÅÅÅÅMMDD-XXXX",
        "member": "Ja, gör mig till medlem om jag inte redan är det.",
        "consents": "Erbjudanden (frivilligt)",
        "privacy": "{controller} sparar dina uppgifter för att känna igen dig som medlem i "
                   "kassan och sköta ditt medlemskap. Personnumret sparas bara i en form som "
                   "inte går att läsa tillbaka.",
        "privacy_link": "Läs hela integritetspolicyn",
        "submit": "Skicka",
        "err.required": "Fyll i det här fältet.",
        "err.too_long": "Högst 100 tecken.",
        "err.invalid": "Det här ser inte rätt ut.",
        "err.unreadable": "Det här ser inte rätt ut.",
        "err.reload": "Sidan är för gammal. Ladda om den och försök igen.",
        "err.consents.changed": "Butiken har ändrat texten. Läs den och kryssa i igen om du "
                                "vill.",
        "err.phone.invalid_format": "Det är inget telefonnummer.",
        "err.phone.invalid_length": "Numret har fel antal siffror.",
        "err.personal_id.invalid_format": "Skriv 12 siffror, t.ex. 19850312-1234.",
        "err.personal_id.invalid_length": "Ett personnummer har 10 eller 12 siffror.",
        "err.personal_id.invalid_checksum": "Sista siffran stämmer inte. Kontrollera numret.",
        "err.personal_id.invalid_date": "Datumet i numret finns inte.",
        "err.personal_id.interim_number": "Reservnummer går inte att använda. Ange ditt "
                                          "mobilnummer i kassan i stället.",
        "errors_above": "Rätta de markerade fälten.",
        "stage.checking": "Ett ögonblick, vi letar upp dig …",
        "stage.answer_on_screen": "Svara på skärmen vid kassan: vill du bli medlem?",
        "stage.with_cashier": "Vänd dig till kassören, som gör klart det här med dig …",
        "stage.welcome": "Välkommen, {name}! Du är kopplad till ditt köp.",
        "stage.welcome_new": "Välkommen som medlem, {name}!",
        "stage.cancelled": "Inget registrerades. Du kan välja igen på skärmen.",
        "stage.member_declined": "Du valde att inte bli medlem. Inget sparades.",
        "stage.member_aborted": "Kassören skapade inget medlemskap. Inget sparades.",
        "stage.at_till": "Kassören har tagit hand om resten. Du kan lägga undan mobilen.",
        "stage.ended": "Det här besöket är avslutat.",
        "live_hint": "Sidan uppdateras av sig själv.",
        "card": "Ditt medlemskort",
        "card_hint": "Spara bilden eller lägg sidan på hemskärmen. Visa koden för kameran "
                     "nästa gång.",
        "card_save": "Spara bilden",
        "problem.malformed": "Länken fungerar inte",
        "problem.unknown": "Länken fungerar inte",
        "problem.expired": "Koden har gått ut",
        "problem.used": "Koden är redan använd",
        "problem.replaced": "Koden gäller inte längre",
        "todo.malformed": "Skanna koden på skärmen vid kassan.",
        "todo.unknown": "Skanna koden på skärmen vid kassan.",
        "todo.expired": "Skanna den nya koden på skärmen.",
        "todo.used": "Varje kod gäller för en mobil. Skanna den nya koden på skärmen.",
        "todo.replaced": "Skanna koden som visas på skärmen nu.",
        "too_many": "För många försök",
        "too_many_todo": "Vänta {seconds} sekunder och försök igen, eller fråga i kassan.",
        "privacy_title": "Integritetspolicy",
        "privacy_full": "{controller} är personuppgiftsansvarig. Vi sparar förnamn, efternamn, "
                        "mobilnummer och ett kontrollvärde av ditt personnummer (numret går "
                        "inte att läsa ut) för att känna igen dig i kassan och sköta ditt "
                        "medlemskap. Samtycken till erbjudanden är frivilliga och kan tas "
                        "tillbaka i kassan när som helst. Du kan begära ut eller radera dina "
                        "uppgifter i butiken.",
        "back": "Tillbaka",
    },
    "en": {
        "title": "Via mobile",
        "intro": "Fill in your details to be connected to your purchase at the till.",
        "first_name": "First name",
        "last_name": "Last name",
        "phone": "Mobile number",
        "personal_id": "Personal identity number",
        "personal_id_hint": "YYYYMMDD-XXXX",
        "member": "Yes, make me a member if I am not one already.",
        "consents": "Offers (optional)",
        "privacy": "{controller} keeps your details to recognise you as a member at the till "
                   "and to run your membership. Your personal identity number is kept only in "
                   "a form that cannot be read back.",
        "privacy_link": "Read the full privacy notice",
        "submit": "Send",
        "err.required": "Please fill in this field.",
        "err.too_long": "At most 100 characters.",
        "err.invalid": "This does not look right.",
        "err.unreadable": "This does not look right.",
        "err.reload": "This page is too old. Reload it and try again.",
        "err.consents.changed": "The shop has changed the text. Read it and tick again if you "
                                "wish.",
        "err.phone.invalid_format": "That is not a phone number.",
        "err.phone.invalid_length": "The number has the wrong number of digits.",
        "err.personal_id.invalid_format": "Type 12 digits, e.g. 19850312-1234.",
        "err.personal_id.invalid_length": "A personal identity number has 10 or 12 digits.",
        "err.personal_id.invalid_checksum": "The last digit does not match. Check the number.",
        "err.personal_id.invalid_date": "The date in the number does not exist.",
        "err.personal_id.interim_number": "Interim numbers cannot be used. Give your mobile "
                                          "number at the till instead.",
        "errors_above": "Please correct the marked fields.",
        "stage.checking": "One moment, we are looking you up …",
        "stage.answer_on_screen": "Answer on the screen at the till: do you want to become "
                                  "a member?",
        "stage.with_cashier": "Please turn to the cashier, who will finish this with you …",
        "stage.welcome": "Welcome, {name}! You are connected to your purchase.",
        "stage.welcome_new": "Welcome as a member, {name}!",
        "stage.cancelled": "Nothing was registered. You can choose again on the screen.",
        "stage.member_declined": "You chose not to become a member. Nothing was kept.",
        "stage.member_aborted": "The cashier did not create a membership. Nothing was kept.",
        "stage.at_till": "The cashier has taken care of the rest. You can put your phone "
                         "away.",
        "stage.ended": "This visit is over.",
        "live_hint": "This page updates by itself.",
        "card": "Your member card",
        "card_hint": "Save the image or add this page to your home screen. Show the code to "
                     "the camera next time.",
        "card_save": "Save the image",
        "problem.malformed": "This link does not work",
        "problem.unknown": "This link does not work",
        "problem.expired": "This code has expired",
        "problem.used": "This code has already been used",
        "problem.replaced": "This code is no longer valid",
        "todo.malformed": "Scan the code on the screen at the till.",
        "todo.unknown": "Scan the code on the screen at the till.",
        "todo.expired": "Scan the new code on the screen.",
        "todo.used": "Each code works for one phone. Scan the new code on the screen.",
        "todo.replaced": "Scan the code the screen shows now.",
        "too_many": "Too many requests",
        "too_many_todo": "Please wait {seconds} seconds and try again, or ask at the till.",
        "privacy_title": "Privacy notice",
        "privacy_full": "{controller} is the data controller. We keep your first name, last "
                        "name, mobile number and a check value of your personal identity "
                        "number (the number cannot be read back from it) to recognise you at "
                        "the till and to run your membership. Consents to offers are voluntary "
                        "and can be withdrawn at the till at any time. You can ask the shop "
                        "for a copy of your data or to erase it.",
        "back": "Back",
    },
    "nl": {
        "title": "Via mobiel",
        "intro": "Vul je gegevens in om gekoppeld te worden aan je aankoop bij de kassa.",
        "first_name": "Voornaam",
        "last_name": "Achternaam",
        "phone": "Mobiel nummer",
        "personal_id": "Zweeds persoonsnummer",
        "personal_id_hint": "JJJJMMDD-XXXX",
        "member": "Ja, maak mij lid als ik dat nog niet ben.",
        "consents": "Aanbiedingen (vrijwillig)",
        "privacy": "{controller} bewaart je gegevens om je bij de kassa als lid te herkennen en "
                   "je lidmaatschap te beheren. Je persoonsnummer wordt alleen bewaard in een "
                   "vorm die niet terug te lezen is.",
        "privacy_link": "Lees de volledige privacyverklaring",
        "submit": "Versturen",
        "err.required": "Vul dit veld in.",
        "err.too_long": "Maximaal 100 tekens.",
        "err.invalid": "Dit lijkt niet te kloppen.",
        "err.unreadable": "Dit lijkt niet te kloppen.",
        "err.reload": "Deze pagina is te oud. Laad haar opnieuw en probeer het nog eens.",
        "err.consents.changed": "De winkel heeft de tekst gewijzigd. Lees hem en vink opnieuw "
                                "aan als je wilt.",
        "err.phone.invalid_format": "Dat is geen telefoonnummer.",
        "err.phone.invalid_length": "Het nummer heeft het verkeerde aantal cijfers.",
        "err.personal_id.invalid_format": "Typ 12 cijfers, bijv. 19850312-1234.",
        "err.personal_id.invalid_length": "Een persoonsnummer heeft 10 of 12 cijfers.",
        "err.personal_id.invalid_checksum": "Het laatste cijfer klopt niet. Controleer het "
                                            "nummer.",
        "err.personal_id.invalid_date": "De datum in het nummer bestaat niet.",
        "err.personal_id.interim_number": "Een reservenummer werkt niet. Geef bij de kassa je "
                                          "mobiele nummer.",
        "errors_above": "Verbeter de gemarkeerde velden.",
        "stage.checking": "Een ogenblik, we zoeken je op …",
        "stage.answer_on_screen": "Antwoord op het scherm bij de kassa: wil je lid worden?",
        "stage.with_cashier": "Wend je tot de kassamedewerker, die dit met je afrondt …",
        "stage.welcome": "Welkom, {name}! Je bent gekoppeld aan je aankoop.",
        "stage.welcome_new": "Welkom als lid, {name}!",
        "stage.cancelled": "Er is niets geregistreerd. Je kunt opnieuw kiezen op het scherm.",
        "stage.member_declined": "Je koos ervoor geen lid te worden. Er is niets bewaard.",
        "stage.member_aborted": "De kassamedewerker heeft geen lidmaatschap aangemaakt. Er is "
                                "niets bewaard.",
        "stage.at_till": "De kassamedewerker heeft de rest geregeld. Je kunt je telefoon "
                         "wegleggen.",
        "stage.ended": "Dit bezoek is afgelopen.",
        "live_hint": "Deze pagina werkt zichzelf bij.",
        "card": "Je ledenpas",
        "card_hint": "Bewaar de afbeelding of zet deze pagina op je beginscherm. Laat de code "
                     "de volgende keer aan de camera zien.",
        "card_save": "Afbeelding bewaren",
        "problem.malformed": "Deze link werkt niet",
        "problem.unknown": "Deze link werkt niet",
        "problem.expired": "Deze code is verlopen",
        "problem.used": "Deze code is al gebruikt",
        "problem.replaced": "Deze code geldt niet meer",
        "todo.malformed": "Scan de code op het scherm bij de kassa.",
        "todo.unknown": "Scan de code op het scherm bij de kassa.",
        "todo.expired": "Scan de nieuwe code op het scherm.",
        "todo.used": "Elke code werkt voor één telefoon. Scan de nieuwe code op het scherm.",
        "todo.replaced": "Scan de code die het scherm nu toont.",
        "too_many": "Te veel verzoeken",
        "too_many_todo": "Wacht {seconds} seconden en probeer het opnieuw, of vraag het bij de "
                         "kassa.",
        "privacy_title": "Privacyverklaring",
        "privacy_full": "{controller} is verwerkingsverantwoordelijke. We bewaren je voornaam, "
                        "achternaam, mobiele nummer en een controlewaarde van je "
                        "persoonsnummer (het nummer is daaruit niet terug te lezen) om je bij "
                        "de kassa te herkennen en je lidmaatschap te beheren. Toestemming voor "
                        "aanbiedingen is vrijwillig en kun je altijd bij de kassa intrekken. "
                        "Je kunt de winkel om een kopie of verwijdering van je gegevens vragen.",
        "back": "Terug",
    },
}


def text(language: str, key: str, **fields: object) -> str:
    table = TEXTS.get(language, TEXTS["sv"])
    value = table.get(key) or TEXTS["en"].get(key) or key
    return value.format(**fields) if fields else value


def error_text(language: str, field: str, code: str) -> str:
    table = TEXTS.get(language, TEXTS["sv"])
    return table.get(f"err.{field}.{code}") or table.get(f"err.{code}") or table["err.invalid"]


def negotiate(chosen: str | None, cookie: str | None, accept_language: str | None,
              default: str = "sv") -> str:
    """The language asked for in the URL, else the one picked before, else the phone's."""
    for candidate in (chosen, cookie):
        if candidate in LANGUAGES:
            return str(candidate)
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, i, primary))
    return min(ranked)[2] if ranked else (default if default in LANGUAGES else "sv")
