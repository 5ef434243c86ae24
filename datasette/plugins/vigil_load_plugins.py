"""
The public record loads only the plugins it serves (loaded only by `vigil serve --public`, with
--plugins-dir).

datasette loads every plugin installed in its environment, and the private server needs the map
plugins (datasette-cluster-map and datasette-leaflet, which puts its script on every page). The
public record never shows a map of where people died, so it must not carry their code either.
vigil starts the public datasette with DATASETTE_LOAD_PLUGINS naming the packages it serves, the
variable datasette 1.0 reads itself; datasette 0.65 ignores it, so this module does what 1.0
would: it unregisters every installed plugin the list does not name, before datasette reads its
plugins' templates and static files (this module is imported while datasette is being set up).
Plugins from --plugins-dir, like this one, are vigil's own and stay.
"""
import os

from datasette.plugins import pm


def _package(name):
    return name.strip().lower().replace("_", "-")


def _unregister_unlisted(listed):
    wanted = {_package(name) for name in listed.split(",") if name.strip()}
    for plugin, dist in pm.list_plugin_distinfo():
        if _package(dist.project_name) not in wanted and pm.is_registered(plugin):
            pm.unregister(plugin)


if os.environ.get("DATASETTE_LOAD_PLUGINS") is not None:
    _unregister_unlisted(os.environ["DATASETTE_LOAD_PLUGINS"])
