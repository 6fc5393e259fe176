"""Background entry points of approval policies (Django's Tasks API): primary keys in, safe to run
twice."""

from django_tasks import task

from . import reminders


@task(queue_name="email")
def send_reminder(reminder_id: int) -> str:
    return reminders.deliver(reminder_id)
