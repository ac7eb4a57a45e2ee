"""PDFs of the printed pages (the visit report, the patient's plan), drawn by WeasyPrint from
the very HTML the browser prints, with the print style sheet: one template, two outputs.

WeasyPrint rather than Typst: it lays out our HTML and CSS as they are, so the PDF cannot
drift from the printed page, while Typst would need a second template of every page kept in
step by hand. It needs Debian's pango (``make pango`` installs it when missing).

Nothing is fetched while rendering: the only resources a page may load are the package's own
``/static`` files, read from the package; any other address is refused.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

#: The address the page is laid out at: never contacted, only mapped to the package's files.
BASE_URL = "https://spinecare.invalid/"


class PdfUnavailable(RuntimeError):
    """WeasyPrint or the system libraries it needs (pango) are missing."""


_TYPES = {"css": "text/css", "ico": "image/x-icon", "svg": "image/svg+xml", "png": "image/png"}


def package_file(url: str) -> tuple[bytes, str]:
    """The bytes and media type of a ``/static`` file of the package that ``url`` (under
    :data:`BASE_URL`) names; :class:`ValueError` for any other address."""
    parts = urlsplit(url)
    name = parts.path.removeprefix("/static/")
    if parts.scheme != "https" or parts.netloc != "spinecare.invalid" \
            or not parts.path.startswith("/static/") or "/" in name or name.startswith("."):
        raise ValueError(f"a PDF page may load only the package's own static files, not {url}")
    data = files("spinecare.web").joinpath("static", name).read_bytes()
    return data, _TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")


def html_to_pdf(html: str) -> bytes:
    """The PDF of a page's HTML, laid out for print (A4)."""
    # Imported here, not at start-up: the pages work without pango, and only a PDF asks for it.
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher, URLFetcherResponse
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(f"PDF output needs WeasyPrint and pango: {exc}") from exc

    class PackageOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            data, media_type = package_file(url)
            return URLFetcherResponse(url, data, {"Content-Type": media_type})

    pdf = HTML(string=html, base_url=BASE_URL,
               url_fetcher=PackageOnly(fail_on_errors=True)).write_pdf()
    assert pdf is not None
    return bytes(pdf)
