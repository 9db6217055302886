"""The digest: one day's items as a briefing.

``build`` turns what one storage query returns into the ``Digest`` model; renderers turn
that model into Markdown, HTML and JSON (and every later output). May import
``pipeline.config``, ``errors``, ``records``, ``redact``, ``match.snippet``.
"""

from pipeline.digest.build import *  # noqa: F401,F403  (the helper splits this module)
