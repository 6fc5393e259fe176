"""The shared catalogue: customers, and what the ad-hoc side bills them with.

`Customer` is shared by both capabilities: contract-cycle billing (Zenskar-like) knows it by its
UUID, ad-hoc invoicing (Rebillia-like) by its integer `account_number`. The rest is the ad-hoc
side's reference data, with integer keys like the upstream's: countries, company currencies,
gateways, payment methods and address books. Also the code validators the other model modules
reuse.
"""

from __future__ import annotations

import uuid

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

alpha2 = RegexValidator(r"^[A-Z]{2}$", "Use the two-letter ISO 3166-1 code in capitals (e.g. DE).")
iso4217 = RegexValidator(
    r"^[A-Z]{3}$", "Use the three-letter ISO 4217 code in capitals (e.g. EUR)."
)
masked = RegexValidator(
    r"^[•*]{4} \d{4}$", "Store only the masked number, e.g. '•••• 4242' (never the full number)."
)


class Customer(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The ad-hoc side (like Rebillia) identifies customers by a positive integer.
    account_number = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=200, help_text="The business name invoices are made out to.")
    contact_name = models.CharField(max_length=120, blank=True)
    email = models.EmailField()
    phone = models.CharField(max_length=45, blank=True)
    street1 = models.CharField(max_length=200)
    street2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=100, blank=True)
    zip = models.CharField("postal code", max_length=20)
    country = models.CharField(max_length=2, validators=[alpha2], help_text="ISO 3166-1 alpha-2")

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(account_number__gt=0), name="customer_account_positive"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Country(models.Model):
    id = models.PositiveIntegerField(
        primary_key=True, help_text="The ISO 3166-1 numeric code (e.g. 276 for Germany)."
    )
    alpha2 = models.CharField(max_length=2, unique=True, validators=[alpha2])
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "countries"

    def __str__(self) -> str:
        return f"{self.name} ({self.alpha2})"


class CompanyCurrency(models.Model):
    id = models.AutoField(primary_key=True)
    iso3 = models.CharField("ISO 4217 code", max_length=3, unique=True, validators=[iso4217])
    symbol = models.CharField(max_length=8, blank=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["iso3"]
        verbose_name_plural = "company currencies"

    def __str__(self) -> str:
        return self.iso3


class Gateway(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    id = models.AutoField(primary_key=True)
    currency = models.ForeignKey(CompanyCurrency, on_delete=models.PROTECT, related_name="gateways")
    display_name = models.CharField(max_length=100)
    type = models.CharField(max_length=40, help_text="e.g. stripe, adyen, bankTransfer")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        ordering = ["currency", "display_name", "id"]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.currency})"


class PaymentMethod(models.Model):
    class Type(models.TextChoices):
        CARD = "card", "Card"
        ACH = "ach", "ACH bank account"

    id = models.AutoField(primary_key=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="payment_methods")
    type = models.CharField(max_length=4, choices=Type.choices)
    account_name = models.CharField(max_length=100)
    masked_number = models.CharField(max_length=9, validators=[masked])

    class Meta:
        ordering = ["customer", "id"]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.masked_number}"


class AddressBookEntry(models.Model):
    class Type(models.TextChoices):
        RESIDENTIAL = "residential", "Residential"
        COMMERCIAL = "commercial", "Commercial"

    id = models.AutoField(primary_key=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    contact_name = models.CharField(max_length=120)
    street1 = models.CharField(max_length=200)
    street2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=100, blank=True)
    zip = models.CharField("postal code", max_length=20)
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="+")
    type = models.CharField(max_length=11, choices=Type.choices, default=Type.COMMERCIAL)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=45, blank=True)
    contact_company = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["customer", "id"]
        verbose_name_plural = "address book entries"

    def __str__(self) -> str:
        return f"{self.contact_name}, {self.city}"
