from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Approval policies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from invoices import extensions

        from . import delegation, rules

        extensions.approval_policy = rules.decide
        extensions.delegations = delegation.acting_for

    def nav_items(self, user) -> list[tuple[str, str]]:
        """Managers (in their own right) record their absences."""
        from .delegation import approves_in_own_right

        if approves_in_own_right(user):
            return [("policies:absences", "Absences")]
        return []

    def sweep(self, *, older_than):
        """Owe and send reminders and escalations (invoices.sweep calls this)."""
        from . import reminders
        from .tasks import send_reminder

        owed = reminders.owe()
        for reminder_id in owed:
            send_reminder.enqueue(reminder_id)
        return [f"reminders: {len(owed)} to send"] if owed else []
