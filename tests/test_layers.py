"""The layering rule, checked in a fresh interpreter: which modules may import IPython, widgets, openai.

Only the magic modules and ``heroku_magic.widgets`` import IPython or ipywidgets, only the widgets
import anywidget, no module imports matplotlib (the chart imports it when drawn), and only
``client.py`` imports openai. Each package module is imported alone in a fresh interpreter, and the third-party
packages it pulled in are read from ``sys.modules`` — what really happened, not what the source says.
"""

from __future__ import annotations

import inspect
import json
import pkgutil
import subprocess
import sys
import types

from IPython.core.interactiveshell import InteractiveShell

import heroku_magic

IPYTHON_LAYER = "heroku_magic.magics"  # the package; with heroku_magic.widgets, the IPython layer
MAGIC_CLASSES = ("heroku_magic.magics.chat", "heroku_magic.magics.panel", "heroku_magic.magics.agent")
GUARDED = ("IPython", "ipywidgets", "anywidget", "matplotlib", "openai")

PROBE = """
import importlib, json, sys
before = set(sys.modules)
guarded = set(json.loads(sys.argv[2]))
results = {}
for name in json.loads(sys.argv[1]):
    for module in [m for m in sys.modules if m.split(".")[0] in guarded or m.startswith("heroku_magic")]:
        del sys.modules[module]
    importlib.import_module(name)
    results[name] = sorted({m.split(".")[0] for m in sys.modules} & guarded)
print(json.dumps(results))
"""


def package_modules() -> list[str]:
    """Every module of the package but the simulator (a server, not part of the notebook layers)."""
    names = [
        info.name
        for info in pkgutil.walk_packages(heroku_magic.__path__, "heroku_magic.")
        if not info.name.startswith("heroku_magic.simulator")
    ]
    return sorted(names)


def test_only_the_ipython_layer_imports_ipython_and_ipywidgets_and_only_the_client_imports_openai() -> None:
    modules = package_modules()
    assert {"heroku_magic.client", "heroku_magic.widgets.live", "heroku_magic.render.static"} <= set(modules)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(modules), json.dumps(GUARDED)],
        capture_output=True,
        text=True,
        check=True,
    )
    imported: dict[str, list[str]] = json.loads(out.stdout)
    offenders = {}
    for name, packages in imported.items():
        allowed = set()
        if name.startswith((IPYTHON_LAYER, "heroku_magic.widgets")):
            allowed |= {"IPython", "ipywidgets"}
        if name.startswith("heroku_magic.widgets"):
            allowed.add("anywidget")
        if name == "heroku_magic.client":
            allowed.add("openai")
        if set(packages) - allowed:
            offenders[name] = sorted(set(packages) - allowed)
    assert offenders == {}


def test_the_values_of_a_response_import_nothing_from_the_package() -> None:
    # events.py (the events and ChatResult) is the bottom of the graph: result.py folds events into
    # a ChatResult, and events.py once imported ChatResult back from it (a cycle, if only for types).
    import ast
    from pathlib import Path

    source = Path(heroku_magic.__file__).with_name("events.py").read_text(encoding="utf-8")
    imported = [
        node.module or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("heroku_magic"))
    ]
    assert imported == []


def test_the_magic_classes_never_import_each_other() -> None:
    # They share magics/support.py; only magics/extension.py (which registers them) knows them all. Each is
    # imported alone in a fresh interpreter and the other must not have been loaded with it.
    for name in MAGIC_CLASSES:
        probe = f"import importlib, sys; importlib.import_module({name!r}); print(sorted(sys.modules))"
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        loaded = set(out.stdout.replace("'", "").strip("[]\n").split(", "))
        assert name in loaded and (set(MAGIC_CLASSES) - {name}).isdisjoint(loaded), name


def test_loading_the_extension_builds_no_argument_parser_and_help_is_ipythons() -> None:
    # %load_ext used to build every magic's parser and help text (~90 options); now the first use does.
    probe = (
        "from IPython.testing.globalipapp import start_ipython\n"
        "ip = start_ipython(); ip.run_line_magic('load_ext', 'heroku_magic')\n"
        "from heroku_magic.magics.chat import HerokuMagics\n"
        "from heroku_magic.magics.panel import PanelMagics\n"
        "from heroku_magic.magics.agent import AgentMagics\n"
        "magics = [getattr(c, n) for c in (HerokuMagics, PanelMagics, AgentMagics) for n in dir(c)]\n"
        "print(sum(getattr(m, 'has_arguments', False) for m in magics),"
        " [m.__name__ for m in magics if getattr(m, 'has_arguments', False) and m.parser._parser])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split(" ", 1) == ["8", "[]\n"]


def test_the_lazy_help_is_the_help_ipython_builds(shell: InteractiveShell) -> None:
    from IPython.core.magic_arguments import construct_parser

    from heroku_magic.magics.agent import AgentMagics
    from heroku_magic.magics.chat import HerokuMagics
    from heroku_magic.magics.panel import PanelMagics

    checked = []
    for cls in (HerokuMagics, PanelMagics, AgentMagics):
        for name in [n for n in dir(cls) if getattr(getattr(cls, n), "has_arguments", False)]:
            func = getattr(cls, name)
            lazy_help = func.getdoc()
            # The oracle: IPython's own construction from the same declarations and docstring.
            twin = types.FunctionType(func.__code__, func.__globals__, name)
            twin.__doc__, twin.decorators = func.parser.description, func.decorators  # type: ignore[attr-defined]
            assert lazy_help == construct_parser(twin).format_help()
            # What ? shows (IPython's inspector reads the getdoc hook).
            kind = "cell" if name in ("heroku_chat", "heroku_explore", "heroku_agent") else "line"
            prefix = "%%" if kind == "cell" else "%"
            shown = shell.object_inspect_text(prefix + name)
            assert inspect.cleandoc(lazy_help).splitlines()[2] in shown
            checked.append(name)
    assert len(checked) == 8
