"""Template helpers for the list pages: ``{% load lists %}``.

``{% cache 3600 history-filters form|form_state %}<form>...</form>{% endcache %}`` keeps the
rendered filter form (settings.CACHES["template_fragments"], in each process's memory): its HTML
is a pure function of what ``form_state`` names, and rendering its fifteen fields with their
widgets, labels and choices costs more than the rest of the page.
"""

from django import template

register = template.Library()


@register.filter
def form_state(form) -> str:
    """Everything a bound form's HTML depends on, as one string: the data of each field, its
    label, help text, choices and widget attributes, and the errors validation found."""
    data = form.data
    getlist = getattr(data, "getlist", None)
    fields = []
    for name, field in form.fields.items():
        widget = field.widget
        fields.append(
            (
                name,
                getlist(name) if getlist else data.get(name),
                field.label,
                field.help_text,
                field.required,
                field.disabled,
                getattr(field, "choices", None),
                getattr(widget, "choices", None),
                widget.attrs,
                type(widget).__name__,
            )
        )
    errors = sorted((name, list(messages)) for name, messages in form.errors.items())
    return repr((type(form).__qualname__, form.is_bound, form.auto_id, fields, errors))
