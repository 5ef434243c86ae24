"""
Caching for the public record (loaded by `vigil serve` with --plugins-dir; it acts only when the
served database is an immutable snapshot, as `vigil serve --public` serves it).

The public snapshot never changes while it is served: datasette-hashed-urls puts its hash in every
database URL and marks those answers cacheable for a year. This plugin gives every other successful
answer (the home page, /-/ pages, static assets) `Cache-Control: public, max-age=3600`, and the
redirects from the stable URLs (/vigil/...) to the hashed ones a short life, so a new snapshot is
reached within a minute of a publish while its pages are cached for long.
"""
from functools import wraps

from datasette import hookimpl

PAGE_MAX_AGE = 3600
REDIRECT_MAX_AGE = 60


def _serves_snapshot(datasette):
    return any(not db.is_mutable and not db.is_memory for db in datasette.databases.values())


@hookimpl(trylast=True)
def asgi_wrapper(datasette):
    def wrap(app):
        @wraps(app)
        async def with_cache_headers(scope, receive, send):
            if scope.get("type") != "http" or scope.get("method") not in ("GET", "HEAD") or not _serves_snapshot(datasette):
                await app(scope, receive, send)
                return

            async def send_with_headers(event):
                if event["type"] == "http.response.start":
                    headers = list(event.get("headers") or [])
                    current = [value for name, value in headers if name.lower() == b"cache-control"]
                    status = event["status"]
                    value = None
                    if status in (301, 302, 307, 308):
                        value = "public, max-age={}".format(REDIRECT_MAX_AGE)
                    elif status == 200 and not (current and b"public" in current[0]):
                        value = "public, max-age={}".format(PAGE_MAX_AGE)
                    if value:
                        headers = [pair for pair in headers if pair[0].lower() != b"cache-control"]
                        headers.append([b"cache-control", value.encode("latin-1")])
                        event = dict(event, headers=headers)
                await send(event)

            await app(scope, receive, send_with_headers)

        return with_cache_headers

    return wrap
