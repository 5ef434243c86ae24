"""
What vigil's datasette pages add (loaded by `vigil serve`, private and public, with --plugins-dir).

- A case number links to the case's row and to its corrections (the revisions query for that case),
  wherever it shows: the people, the cases, the memorial, the correction log.
- A refused SQL query explains itself: the public record runs only its canned queries, and the
  page (or the JSON answer) says so and points to them and to the download, instead of a bare
  "Forbidden". The answer is still a 403.
"""
from urllib.parse import quote

from datasette import Response, hookimpl
from datasette.utils import tilde_encode
from datasette.views.base import DatasetteError
from markupsafe import Markup

# Where a casenumber names a case of the record (a refused row's may name none); canned queries
# (table None) show the cases' own numbers.
CASE_TABLES = {"cases", "case_revisions", "covid_deaths", "heat_deaths", "cold_deaths", "opioid_deaths", "gun_deaths"}


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if column != "casenumber" or not isinstance(value, str) or not value.strip():
        return None
    if table is not None and table not in CASE_TABLES:
        return None
    # the rejects query lists refused rows, whose case may not exist
    if table is None and "reasons" in (row.keys() if hasattr(row, "keys") else ()):
        return None
    row = datasette.urls.row(database, "cases", tilde_encode(value))
    corrections = "{}?casenumber={}".format(datasette.urls.query(database, "revisions"), quote(value))
    return Markup(
        '<span class="vigil-case-links"><a href="{}">{}</a>'
        '<a class="vigil-corrections" href="{}" aria-label="corrections to {}">corrections</a></span>'
    ).format(row, value, corrections, value)


def _database(datasette):
    names = [name for name, db in datasette.databases.items() if not db.is_memory and name != "_internal"]
    return names[0] if names else None


REFUSED_TITLE = "This public record runs only its own queries"


def _refused_links(datasette):
    """The database page's list of canned queries and the download, at their stable URLs."""
    db = _database(datasette)
    if db is None:
        return "/", "/"
    return "{}#queries".format(datasette.urls.path(tilde_encode(db))), datasette.urls.path(tilde_encode(db) + ".db")


async def _refused(datasette, request):
    queries, download = _refused_links(datasette)
    plain = (
        "Arbitrary SQL (and ?_where=) is turned off on this public record: it answers the queries it "
        "documents, so it stays fast and safe for everyone. Use one of its canned queries ({}), filter, "
        "facet and search its tables, or download the whole database ({}) and query it on your own "
        "machine with sqlite3 or datasette."
    ).format(queries, download)
    if request.path.split("?")[0].endswith(".json"):
        return Response.json({"ok": False, "status": 403, "title": REFUSED_TITLE, "error": plain}, status=403)
    html = await datasette.render_template(
        "vigil_refused.html", {"title": REFUSED_TITLE, "queries": queries, "download": download}, request=request
    )
    return Response.html(html, status=403)


@hookimpl
def forbidden(datasette, request, message):
    if message != "execute-sql":
        return None

    async def inner():
        return await _refused(datasette, request)

    return inner


@hookimpl
def handle_exception(datasette, request, exception):
    # datasette refuses ?_where= with this error rather than a Forbidden
    if not (isinstance(exception, DatasetteError) and exception.status == 403 and "_where=" in str(exception.message)):
        return None

    async def inner():
        return await _refused(datasette, request)

    return inner
