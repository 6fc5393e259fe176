"""Background entry points (Django's Tasks API): plain functions taking primary keys, each safe
to run twice, reading the truth from our own tables.

Queues (settings.TASK_QUEUES): "email" for notifications, "default" for the sweep's work.
"""

from django_tasks import task

from . import notifications


@task(queue_name="email")
def send_notification(notification_id: int) -> str:
    return notifications.deliver(notification_id)
