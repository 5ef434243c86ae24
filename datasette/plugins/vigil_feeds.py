"""
vigil's Atom feeds (loaded by `vigil serve`, private and public, with --plugins-dir): datasette-atom's
feeds of the canned queries new_deaths and corrections, made to keep.

datasette-atom names a feed after the URL it was fetched at; the public record's pages live at its
snapshot's hashed URL (/vigil-1a2b3c4/...), which changes with every publish and is cached for a
year. This renderer takes over the .atom extension (trylast: registered after datasette-atom, it
wins) and gives a canned query's feed a stable id and self link, /<database>/<query>.atom, whatever
URL served it. Entry links and the links in an entry's HTML are written relative to the database
(`memorial?date=...`) by the queries, which know no host, and are made absolute here, under the
stable database URL too. A feed with no entry yet is valid: it is dated by the last successful run
(datasette-atom fails on an empty feed). Anything other than a canned query is left to datasette-atom.
A lens (?lens=heat: the people of that lens, schemas/lenses.ts) is a feed of its own: its id and self
link carry it, and its title names it; COVID-19's (no lens, or lens=covid) keeps the plain URL.
"""
import re
from urllib.parse import quote, urljoin

import datasette_atom
from datasette import __version__, hookimpl
from datasette.utils import tilde_encode
from datasette.utils.asgi import Response
from feedgen.feed import FeedGenerator

HREF = re.compile(r'href="([^"]*)"')


@hookimpl(trylast=True)
def register_output_renderer(datasette):
    return {"extension": "atom", "render": render_feed, "can_render": datasette_atom.can_render_atom}


def _stable_base(datasette, request, database):
    """The database's URL without the snapshot's hash, e.g. https://host/vigil/"""
    path = datasette.urls.path(tilde_encode(database))
    return "{}://{}{}/".format(request.scheme, request.host, path)


async def _last_run(datasette, database):
    db = datasette.get_database(database)
    result = await db.execute("SELECT max(finished_at) FROM runs WHERE status = 'success'")
    return result.first()[0] or "1970-01-01T00:00:00Z"


async def render_feed(datasette, request, sql, columns, rows, database, table, query_name, view_name, data):
    if not query_name:
        return datasette_atom.render_atom(datasette, request, sql, columns, rows, database, table, query_name, view_name, data)
    base = _stable_base(datasette, request, database)
    query = (datasette.metadata(database=database) or {}).get("queries", {}).get(query_name)
    # only a feed whose query takes a lens is a lens's feed
    takes_lens = isinstance(query, dict) and ":lens" in query.get("sql", "")
    lens = (request.args.get("lens") or "").strip().lower() if takes_lens else ""
    lens = "" if lens == "covid" else lens
    stable = urljoin(base, tilde_encode(query_name) + ".atom" + ("?lens=" + quote(lens) if lens else ""))
    absolute = lambda link: urljoin(base, link)
    fg = FeedGenerator()
    fg.generator(generator="Datasette", version=__version__, uri="https://datasette.io/")
    fg.id(stable)
    fg.link(href=stable, rel="self")
    fg.link(href=urljoin(base, tilde_encode(query_name) + ("?lens=" + quote(lens) if lens else "")), rel="alternate")
    title = query.get("title", query_name) if isinstance(query, dict) else query_name
    fg.title(title + (" (the {} lens)".format(lens) if lens else ""))
    fg.updated(max(row["atom_updated"] for row in rows) if rows else await _last_run(datasette, database))
    for row in reversed(rows):
        entry = fg.add_entry()
        entry.id(str(row["atom_id"]))
        entry.title(str(row["atom_title"]))
        entry.updated(row["atom_updated"])
        if "atom_link" in columns and row["atom_link"]:
            entry.link(href=absolute(row["atom_link"]), rel="alternate")
        if "atom_content_html" in columns:
            cleaned = datasette_atom.clean(row["atom_content_html"] or "")
            entry.content(HREF.sub(lambda m: 'href="{}"'.format(absolute(m.group(1).replace("&amp;", "&")).replace("&", "&amp;")), cleaned), type="html")
        elif "atom_content" in columns:
            entry.content(row["atom_content"], type="text")
    return Response(fg.atom_str(pretty=True), content_type="application/atom+xml; charset=utf-8", status=200)
