"""Loading and unloading the IPython extension: registers the magic classes on one shared session.

The magic classes never import each other; this module is the one place that knows them all.
"""

from __future__ import annotations

import sys
from typing import Any

from IPython.core.error import UsageError

from ..session import Session


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (``%load_ext heroku_magic``)."""
    from .agent import AgentMagics
    from .chat import HerokuMagics
    from .panel import PanelMagics

    chat = HerokuMagics(ipython)
    ipython.register_magics(chat)
    ipython.register_magics(PanelMagics(ipython, chat))
    ipython.register_magics(AgentMagics(ipython, chat))
    chat.session.painter.start()


def unload_ipython_extension(ipython: Any) -> None:
    """Stop painting live views and close the pooled ones (``%unload_ext heroku_magic``); the magics stay."""
    magics = ipython.magics_manager.registry.get("HerokuMagics")
    if magics is not None:
        magics.session.painter.stop()
    live = sys.modules.get("heroku_magic.widgets.live")  # loaded by the first live view, if any
    if live is not None:
        live.POOL.close()


def current_session() -> Session:
    """The session of the running IPython shell (defaults set by the controls panel, conversations)."""
    from IPython import get_ipython

    shell = get_ipython()
    magics = shell.magics_manager.registry.get("HerokuMagics") if shell is not None else None
    if magics is None:
        raise UsageError("heroku_magic is not loaded: run %load_ext heroku_magic first")
    return magics.session  # type: ignore[no-any-return]
