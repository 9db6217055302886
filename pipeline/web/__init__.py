"""The reading room: a read-only website over what Newswatch keeps.

``/`` the latest briefing, ``/digest/YYYY-MM-DD`` any day, ``/story/<id>`` a
story's reports in time order, ``/item/<id>`` one report with its matches
marked, ``/search`` the kept reports (Arabic and English, normalised as the
rule language normalises), ``/feeds`` every feed's health, ``/health`` JSON for
probes, ``/feeds/<name>.atom`` the Atom files in output/feeds/.

``app`` (Starlette routes), ``access`` (token, CSP, read-only), ``views`` (each
page's context), ``query`` (the search box's language), ``marks``
(highlighting, what each report added), ``briefing`` (the only door to the
digest model), ``server`` (uvicorn, foreground or on a thread of the service).

May import ``storage`` (all reads go through it), ``pipeline.config``,
``errors``, ``records``, ``redact``, ``textnorm``, ``maintenance``,
``match`` (rules and snippets, to highlight what matched) and ``digest`` (through
``briefing`` only). Never imported by a stage; nothing here writes.
"""

__all__ = ["create_app", "ReadingRoom", "start_in_service", "web_config"]


def __getattr__(name: str):
    # imported on first use: pipeline.config reads pipeline.web.options while it is
    # itself being imported, and the app imports the config
    if name == "create_app":
        from pipeline.web.app import create_app
        return create_app
    if name in ("ReadingRoom", "start_in_service", "web_config"):
        from pipeline.web import server
        return getattr(server, name)
    raise AttributeError(name)
