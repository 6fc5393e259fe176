"""The engine's catalogue in the Django admin: superusers maintain customers, contracts (with
their phases and pricings), products, currencies, gateways, payment methods and countries.

Invoices are never edited here: engine invoices change only through `billing_engine.api`
(approved ones only by credit notes and a void), and ad-hoc invoices are live documents once
posted.
"""

from django.contrib import admin

from .models import (
    AddressBookEntry,
    AdhocInvoice,
    AdhocInvoiceLine,
    CompanyCurrency,
    Contract,
    Country,
    Customer,
    EngineCreditNote,
    EngineInvoice,
    EngineInvoiceLine,
    Gateway,
    NumberSequence,
    PaymentMethod,
    Phase,
    Pricing,
    Product,
)


class ReadOnlyAdminMixin:
    """Viewable by whoever may view the model; nobody adds, changes or deletes."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PaymentMethodInline(admin.TabularInline):
    model = PaymentMethod
    extra = 0


class AddressBookEntryInline(admin.StackedInline):
    model = AddressBookEntry
    extra = 0
    autocomplete_fields = ["country"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "account_number", "contact_name", "email", "city", "country"]
    list_filter = ["country"]
    search_fields = ["name", "contact_name", "email", "=account_number"]
    ordering = ["name", "id"]
    inlines = [PaymentMethodInline, AddressBookEntryInline]


class PhaseInline(admin.TabularInline):
    model = Phase
    extra = 0
    show_change_link = True  # pricings are edited on the phase's own page
    fields = ["name", "phase_type", "start_date", "end_date"]


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "customer",
        "status",
        "currency",
        "cadence",
        "billing_cycle_start_day",
        "in_advance",
        "start_date",
        "end_date",
    ]
    list_filter = ["status", "currency", "cadence", "in_advance"]
    search_fields = ["name", "customer__name"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    date_hierarchy = "start_date"
    inlines = [PhaseInline]


class PricingInline(admin.StackedInline):
    model = Pricing
    extra = 0
    autocomplete_fields = ["product"]
    fields = [
        ("product", "pricing_type"),
        ("unit_amount_minor", "quantity", "unit"),
        "tiers",
        ("start_date", "end_date"),
    ]


@admin.register(Phase)
class PhaseAdmin(admin.ModelAdmin):
    list_display = ["name", "contract", "phase_type", "start_date", "end_date"]
    list_filter = ["phase_type"]
    search_fields = ["name", "contract__name", "contract__customer__name"]
    list_select_related = ["contract"]
    autocomplete_fields = ["contract"]
    inlines = [PricingInline]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "sku", "description"]
    search_fields = ["name", "sku"]


@admin.register(Pricing)
class PricingAdmin(admin.ModelAdmin):
    list_display = [
        "product",
        "phase",
        "pricing_type",
        "unit_amount_minor",
        "quantity",
        "start_date",
        "end_date",
    ]
    list_filter = ["pricing_type"]
    search_fields = ["product__name", "product__sku", "phase__contract__name"]
    list_select_related = ["product", "phase__contract"]
    autocomplete_fields = ["phase", "product"]


class EngineInvoiceLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = EngineInvoiceLine
    extra = 0
    fields = [
        "position",
        "product_name",
        "phase_type",
        "quantity",
        "unit_amount_minor",
        "amount_minor",
        "service_start",
        "service_end",
        "covered_days",
        "window_days",
    ]
    readonly_fields = fields


class EngineCreditNoteInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = EngineCreditNote
    extra = 0
    fields = ["number", "amount_minor", "reason", "created_at"]
    readonly_fields = fields


@admin.register(EngineInvoice)
class EngineInvoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "contract",
        "customer",
        "status",
        "bill_for",
        "currency",
        "total_minor",
        "approved_at",
        "voided_at",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["number", "contract__name", "customer__name"]
    list_select_related = ["contract", "customer"]
    date_hierarchy = "bill_for"
    inlines = [EngineInvoiceLineInline, EngineCreditNoteInline]


@admin.register(NumberSequence)
class NumberSequenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "series", "year", "last_value"]
    list_filter = ["series", "year"]


@admin.register(Country)
class CountryAdmin(admin.ModelAdmin):
    list_display = ["name", "alpha2", "id"]
    search_fields = ["name", "alpha2"]


class GatewayInline(admin.TabularInline):
    model = Gateway
    extra = 0


@admin.register(CompanyCurrency)
class CompanyCurrencyAdmin(admin.ModelAdmin):
    list_display = ["iso3", "name", "symbol", "id"]
    search_fields = ["iso3", "name"]
    inlines = [GatewayInline]


@admin.register(Gateway)
class GatewayAdmin(admin.ModelAdmin):
    list_display = ["display_name", "currency", "type", "status", "id"]
    list_filter = ["status", "currency", "type"]
    list_select_related = ["currency"]


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    list_display = ["customer", "type", "account_name", "masked_number", "id"]
    list_filter = ["type"]
    search_fields = ["customer__name", "account_name"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]


@admin.register(AddressBookEntry)
class AddressBookEntryAdmin(admin.ModelAdmin):
    list_display = ["customer", "contact_name", "city", "country", "type"]
    search_fields = ["customer__name", "contact_name", "city"]
    list_select_related = ["customer", "country"]
    autocomplete_fields = ["customer", "country"]


class AdhocInvoiceLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AdhocInvoiceLine
    extra = 0
    fields = ["position", "description", "qty", "amount_minor"]
    readonly_fields = fields


@admin.register(AdhocInvoice)
class AdhocInvoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "invoice_no",
        "customer",
        "status",
        "currency",
        "total_minor",
        "amount_paid_minor",
        "date_due",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["invoice_no", "customer__name"]
    list_select_related = ["customer", "currency"]
    inlines = [AdhocInvoiceLineInline]
