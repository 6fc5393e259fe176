"""HTML → PDF with WeasyPrint, from templates/documents/pdf/, with nothing fetched at run time.

WeasyPrint needs Pango and HarfBuzz from the system (Debian: libpango-1.0-0 libpangoft2-1.0-0
libharfbuzz-subset0, and fonts-dejavu-core for the font). It is imported lazily, once: where it
or its libraries are missing, `available()` is False with the reason, and the app still runs
(the invoice page says PDFs are unavailable).

The HTML is self-contained: the stylesheet is read from a template and handed over as a
string, fonts come from the system's fontconfig, and the URL fetcher refuses every URL (a
template that points at anything, local file or network, fails the rendering loudly instead of
fetching it).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from django.template.loader import render_to_string

log = logging.getLogger(__name__)

#: Bumped whenever templates/documents/pdf/ changes what a document says or how it looks; stored
#: with each document beside the renderer's version.
# 2: a void notice is named after the invoice it voids; 3: an ad-hoc correction shows its period
TEMPLATE_VERSION = "3"
HTML_TEMPLATE = "documents/pdf/invoice.html"
CSS_TEMPLATE = "documents/pdf/invoice.css"


@dataclass(frozen=True)
class Availability:
    ok: bool
    version: str = ""
    reason: str = ""


@functools.cache
def available() -> Availability:
    """Whether WeasyPrint and its system libraries load here (checked once per process)."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: Pango or HarfBuzz cannot be loaded
        log.warning("PDF rendering unavailable: %s", exc)
        return Availability(False, reason=str(exc))
    return Availability(True, version=weasyprint.__version__)


class RenderingUnavailable(RuntimeError):
    """WeasyPrint or its system libraries are missing."""


def renderer_version() -> str:
    return f"WeasyPrint {available().version}; template v{TEMPLATE_VERSION}"


def _refusing_fetcher():
    import weasyprint.urls

    class RefusingFetcher(weasyprint.urls.URLFetcher):
        """Nothing is fetched while rendering: every URL stops the rendering."""

        def fetch(self, url, headers=None):
            raise weasyprint.urls.FatalURLFetchingError(
                f"refused to fetch {url[:80]!r}: invoice documents are self-contained"
            )

    return RefusingFetcher()


def render_html(context: dict) -> tuple[str, str]:
    """The document's HTML and its print stylesheet (for the PDF, and the benchmark)."""
    return render_to_string(HTML_TEMPLATE, context), render_to_string(CSS_TEMPLATE)


def html_to_pdf(html: str, css: str) -> bytes:
    if not available().ok:
        raise RenderingUnavailable(available().reason)
    import weasyprint

    fetcher = _refusing_fetcher()
    document = weasyprint.HTML(string=html, url_fetcher=fetcher, media_type="print")
    stylesheet = weasyprint.CSS(string=css, url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[stylesheet])


def render_pdf(context: dict) -> bytes:
    return html_to_pdf(*render_html(context))
