"""Background entry points (Django's Tasks API, queue "documents"): plain functions taking
primary keys, safe to run twice, reading the truth from our tables."""

from django_tasks import task

from . import services


@task(queue_name="documents")
def render_invoice_document(invoice_id: int) -> str:
    """Render and store the original PDF of an approved invoice (nothing if it exists)."""
    return services.document_render_original(invoice_id)
