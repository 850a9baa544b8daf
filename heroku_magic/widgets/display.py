"""Showing widgets in a cell and taking them away: display bundles, and freeing a view for good.

Every widget view of the package (live chat views, exploration grids, the controls panel, the
picker) is displayed and released through these, so the saved notebook never names a widget model
that is gone and the kernel keeps no widgets for outputs that left the cell.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets


def widget_bundle(view: widgets.Widget) -> dict[str, Any]:
    """A display bundle for a widget whose text/plain is stable (nbval compares it; viewers fall back to it)."""
    return {
        "application/vnd.jupyter.widget-view+json": {
            "version_major": 2,
            "version_minor": 0,
            "model_id": view.model_id,
        },
        "text/plain": "",
    }


# What a released view's output becomes, also in the saved notebook: an empty text. Being of another
# MIME type than the view, it makes JupyterLab dispose of the view (an empty widget view, model_id "",
# would only hide it: a pooled model would keep every past cell's view alive, drawing each new turn).
# It takes the row a hidden view takes, and a reopened notebook shows no "model not found" error.
EMPTY_OUTPUT = {"text/plain": ""}


_SHARED: list[widgets.Layout] = []


def shared_layout() -> widgets.Layout:
    """One default Layout for every live view of the kernel: opened once, never closed.

    Each view would otherwise open and close a Layout model of its own: two of the ~10 messages a
    cell sends besides its paints.
    """
    if not _SHARED:
        _SHARED.append(widgets.Layout())
    return _SHARED[0]


def close_widgets(root: widgets.Widget) -> None:
    """Close a widget, every widget inside it, and their layout and style widgets (not the shared layout)."""
    seen: set[int] = {id(layout) for layout in _SHARED}
    pending = [root]
    while pending:
        widget = pending.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        for name in widget.keys:  # the synced traits: children, layout, style, ...
            value = getattr(widget, name, None)
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(item, widgets.Widget):
                    pending.append(item)
        widget.close()


def release(handle: Any, view: widgets.Widget) -> None:
    """Close a displayed view's widgets, then replace the view by an empty output (also in the saved notebook).

    In this order the frontend disposes of the views before their output goes (the other way round,
    JupyterLab detached each view twice and logged an error).
    """
    close_widgets(view)
    handle.update(EMPTY_OUTPUT, raw=True)
