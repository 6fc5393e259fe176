"""Demo customers, with their payment methods and address books."""

from __future__ import annotations

import random
import unicodedata

from ..models import AddressBookEntry, Country, Customer, PaymentMethod
from .common import _Sync, demo_id

# (name, contact, street, city, state, zip, country)
CUSTOMERS = [
    ("Contoso Pharmaceuticals Inc.", "Maya Patel", "410 Commerce Drive", "Princeton", "NJ",
     "08540", "US"),
    ("Copperleaf Foods Inc.", "Ethan Brooks", "1200 Market Street", "Philadelphia", "PA",
     "19107", "US"),
    ("Tailspin Aviation Services LLC", "Jordan Reyes", "88 Hangar Road", "Wichita", "KS",
     "67209", "US"),
    ("Redwood Clinical Labs Inc.", "Priya Raman", "2550 Sand Hill Road", "Menlo Park", "CA",
     "94025", "US"),
    ("Lakeshore Credit Union", "Amanda Cole", "311 W Wacker Drive", "Chicago", "IL", "60606",
     "US"),
    ("Granite Peak Outfitters", "Luke Harmon", "75 Main Street", "Bozeman", "MT", "59715",
     "US"),
    ("Bluebonnet Energy Partners", "Carlos Medina", "900 Louisiana Street", "Houston", "TX",
     "77002", "US"),
    ("Harborview Logistics Corp.", "Grace Kim", "1 Seaport Lane", "Boston", "MA", "02210",
     "US"),
    ("Maple Ridge Dental Group", "Olivia Tremblay", "155 Wellington Street W", "Toronto", "ON",
     "M5V 3H1", "CA"),
    ("Northwind Traders Ltd", "Dana Whitfield", "14 Harbour Road", "Bristol", "", "BS1 5TY",
     "GB"),
    ("Brightwater Clinics Ltd", "Hannah Price", "22 Queen Street", "Edinburgh", "", "EH2 1JX",
     "GB"),
    ("Fenwick & Hale Solicitors LLP", "Oliver Grant", "5 Chancery Lane", "London", "",
     "WC2A 1LG", "GB"),
    ("Pennine Engineering plc", "Samuel Ashworth", "Unit 4, Calder Park", "Wakefield", "",
     "WF2 7AW", "GB"),
    ("Thames Valley Housing Trust", "Amelia Clarke", "40 Station Road", "Reading", "",
     "RG1 1LX", "GB"),
    ("Albion Print Works Ltd", "George Elliott", "19 Deansgate", "Manchester", "", "M3 2BA",
     "GB"),
    ("Liffey Software Ltd", "Ciara Byrne", "7 Hanover Quay", "Dublin", "", "D02 XY83", "IE"),
    ("Harbour Lane Logistik GmbH", "Jonas Becker", "Am Sandtorkai 50", "Hamburg", "", "20457",
     "DE"),
    ("Helios Medizintechnik AG", "Lena Vogel", "Leopoldstraße 120", "München", "Bayern",
     "80802", "DE"),
    ("Rheinwerk Maschinenbau GmbH", "Felix Wagner", "Industriestraße 12", "Düsseldorf", "",
     "40227", "DE"),
    ("Atelier Lumière SAS", "Camille Laurent", "18 Rue de la Paix", "Paris", "", "75002", "FR"),
    ("Vignobles Durand SARL", "Antoine Durand", "3 Quai des Chartrons", "Bordeaux", "",
     "33000", "FR"),
    ("Kestrel Analytics BV", "Sanne de Vries", "Keizersgracht 210", "Amsterdam", "", "1016 DZ",
     "NL"),
    ("Atlas Freight NV", "Pieter Janssens", "Noorderlaan 147", "Antwerpen", "", "2030", "BE"),
    ("Iberia Solar SL", "Lucía Fernández", "Calle de Alcalá 95", "Madrid", "", "28009", "ES"),
    ("Officine Ferri SpA", "Marco Ferri", "Via Tortona 27", "Milano", "MI", "20144", "IT"),
    ("Donau Bau GmbH", "Katharina Huber", "Wagramer Straße 19", "Wien", "", "1220", "AT"),
    ("Kuusi Health Oy", "Aino Virtanen", "Mannerheimintie 12", "Helsinki", "", "00100", "FI"),
    ("Atlântico Seguros SA", "Inês Carvalho", "Avenida da Liberdade 110", "Lisboa", "",
     "1269-046", "PT"),
    ("Helvetia Präzision AG", "Luca Meier", "Bahnhofstrasse 45", "Zürich", "", "8001", "CH"),
    ("Nordlys Energi AB", "Erik Lindqvist", "Sveavägen 44", "Stockholm", "", "111 34", "SE"),
    ("Fjordline Seafood AS", "Ingrid Solberg", "Bryggen 9", "Bergen", "", "5003", "NO"),
    ("Havn Design ApS", "Mads Jensen", "Strandgade 27", "København", "", "1401", "DK"),
    ("Sakura Precision KK", "Haruto Sato", "2-7-1 Marunouchi, Chiyoda-ku", "Tokyo", "Tokyo",
     "100-0005", "JP"),
    ("Kobe Maritime Systems KK", "Yui Tanaka", "1-1 Higashikawasaki-cho, Chuo-ku", "Kobe",
     "Hyogo", "650-0044", "JP"),
    ("Hokuto Foods Co., Ltd.", "Ren Suzuki", "4-1 Kita 5-jo Nishi, Chuo-ku", "Sapporo",
     "Hokkaido", "060-0005", "JP"),
    ("Minato Creative Inc.", "Aoi Takahashi", "6-10-1 Roppongi, Minato-ku", "Tokyo", "Tokyo",
     "106-6108", "JP"),
    ("Gulf Crescent Trading Co. WLL", "Fahad Al-Sabah", "Al Hamra Tower, Floor 32, Sharq",
     "Kuwait City", "Capital", "13001", "KW"),
    ("Al Noor Medical Supplies", "Noura Al-Mutairi", "Salem Al Mubarak Street, Block 3",
     "Salmiya", "Hawalli", "22001", "KW"),
    ("Burgan Engineering Services", "Yousef Al-Ajmi", "Block 4, Street 10", "Ahmadi",
     "Al Ahmadi", "61001", "KW"),
    ("Tasman Agritech Pty Ltd", "Chloe Nguyen", "120 Collins Street", "Melbourne", "VIC",
     "3000", "AU"),
    ("Lion City Fintech Pte. Ltd.", "Wei Ling Tan", "8 Marina View", "Singapore", "", "018960",
     "SG"),
    ("Falcon Ridge Hospitality LLC", "Omar Haddad", "Emirates Towers, Sheikh Zayed Road",
     "Dubai", "Dubai", "00000", "AE"),
    ("Kiwi Orchard Exports Ltd", "Aroha Williams", "25 Customs Street East", "Auckland", "",
     "1010", "NZ"),
    ("Cape Horizon Tours (Pty) Ltd", "Thabo Nkosi", "1 Dock Road, V&A Waterfront", "Cape Town",
     "Western Cape", "8001", "ZA"),
    ("Mumbai Textile Mills Pvt. Ltd.", "Arjun Mehta", "221 Nariman Point", "Mumbai",
     "Maharashtra", "400021", "IN"),
]  # fmt: skip

# Numbers set aside for fiction where a country has them (555-01xx in North America, 020 7946 0xxx
# in London); the last three digits are added per customer.
PHONE_PREFIX = {
    "US": "+1 212 555 0",
    "CA": "+1 416 555 0",
    "GB": "+44 20 7946 0",
    "IE": "+353 1 555 0",
    "DE": "+49 40 5555 0",
    "FR": "+33 1 55 55 0",
    "NL": "+31 20 555 0",
    "BE": "+32 3 555 0",
    "ES": "+34 91 555 0",
    "IT": "+39 02 5555 0",
    "AT": "+43 1 555 0",
    "FI": "+358 9 555 0",
    "PT": "+351 21 555 0",
    "CH": "+41 44 555 0",
    "SE": "+46 8 555 0",
    "NO": "+47 55 55 0",
    "DK": "+45 33 55 0",
    "JP": "+81 3 5555 0",
    "KW": "+965 2555 0",
    "AU": "+61 3 5550 0",
    "SG": "+65 6555 0",
    "AE": "+971 4 555 0",
    "NZ": "+64 9 555 0",
    "ZA": "+27 21 555 0",
    "IN": "+91 22 5555 0",
}


def _slug(name: str) -> str:
    """A mail domain label from a company name: 'Atlântico Seguros SA' -> 'atlantico-seguros'."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in plain).lower().split()
    return "-".join(words[:2])


def _phone(country: str, index: int) -> str:
    digits = (index * 37) % 100 + (100 if country in ("US", "CA") else 0)
    return f"{PHONE_PREFIX[country]}{digits:03d}"


def _seed_customers(countries: dict[str, Country]) -> list[Customer]:
    rows = []
    for index, (name, contact, street, city, state, zip_code, country) in enumerate(CUSTOMERS):
        slug = _slug(name)
        domain = f"{slug}.example.{'com' if index % 2 == 0 else 'org'}"
        mailbox = ("billing", "accounts.payable", "finance", "ap")[index % 4]
        rows.append(
            {
                "id": demo_id("customer", name),
                "account_number": 10001 + index,
                "name": name,
                "contact_name": contact,
                "email": f"{mailbox}@{domain}",
                "phone": _phone(country, index),
                "street1": street,
                "street2": "",
                "city": city,
                "state": state,
                "zip": zip_code,
                "country": country,
            }
        )
    _Sync(Customer, rows).run()
    customers = list(Customer.objects.filter(id__in=[row["id"] for row in rows]))
    customers.sort(key=lambda customer: customer.account_number)
    for index, customer in enumerate(customers):
        _seed_payment_methods(customer, index)
        _seed_addresses(customer, index, countries)
    return customers


def _seed_payment_methods(customer: Customer, index: int) -> None:
    rng = random.Random(f"payment:{customer.account_number}")
    methods = [("card", customer.contact_name, f"•••• {rng.randint(1000, 9999)}")]
    if customer.country == "US" or index % 3 == 0:
        methods.append(("ach", f"{customer.name} operating", f"•••• {rng.randint(1000, 9999)}"))
    for kind, account_name, number in methods:
        PaymentMethod.objects.update_or_create(
            customer=customer,
            masked_number=number,
            defaults={"type": kind, "account_name": account_name[:100]},
        )


def _seed_addresses(customer: Customer, index: int, countries: dict[str, Country]) -> None:
    entries = [
        {
            "contact_name": customer.contact_name,
            "street1": customer.street1,
            "street2": "",
            "city": customer.city,
            "state": customer.state,
            "zip": customer.zip,
            "type": AddressBookEntry.Type.COMMERCIAL,
            "contact_email": customer.email,
            "contact_phone": customer.phone,
            "contact_company": customer.name,
        }
    ]
    if index % 3 == 1:
        entries.append(
            {
                **entries[0],
                "street2": "Goods-in, loading bay 2",
                "contact_name": "Receiving desk",
                "contact_email": "",
            }
        )
    for entry in entries:
        AddressBookEntry.objects.update_or_create(
            customer=customer,
            contact_name=entry["contact_name"],
            street1=entry["street1"],
            street2=entry["street2"],
            defaults={**entry, "country": countries[customer.country]},
        )
