"""The widget magics: ``%heroku_controls`` (session defaults as a panel) and ``%%heroku_explore``.

They share the chat magics' session, option parsing and configuration, so a setting means the same
thing in every magic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument
from IPython.display import display
from traitlets import Int

from ..errors import APIError, ConfigurationError, Interrupted, OptionsError
from ..options import GRID_FIELDS
from ..ratelimit import DEFAULT_CONCURRENCY
from .arguments import magic_arguments, request_arguments
from .support import (
    ChatConfig,
    check_names,
    check_variable,
    client_for,
    options_from_args,
    parse_line,
    prompt_from_cell,
    publish,
    use_widgets,
)

if TYPE_CHECKING:
    from ..catalog import ModelInfo
    from ..explore import ExploreResults, Outcome

MAX_CONFIGURATIONS = 64


@magics_class
class PanelMagics(Magics):
    """Controls panel and parameter exploration. Configure with ``%config PanelMagics.NAME = ...``."""

    concurrency = Int(
        DEFAULT_CONCURRENCY, min=1, help="Requests %%heroku_explore runs at the same time (1 or more)."
    ).tag(config=True)

    def __init__(self, shell: Any, chat: ChatConfig, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.chat = chat
        self.panel: Any = None  # the one ControlsPanel, created on first display

    @property
    def session(self) -> Any:
        """The session shared with the chat magics."""
        return self.chat.session

    # -- %heroku_controls --------------------------------------------------------------------------

    @magic_arguments()
    @argument("--refresh", action="store_true", help="Read the model catalogue again.")
    @line_magic
    def heroku_controls(self, line: str) -> None:
        """Show the controls panel: model, sampling, thinking, effort, tools, system prompt, conversation.

        Its state is the default for later %%heroku_chat cells (options on a cell still win), it is
        the same panel each time it is shown, and from Python it is ``heroku_magic.current_session().defaults``.
        """
        from ..widgets.controls import ControlsPanel
        from ..widgets.display import widget_bundle

        args = parse_line(self.heroku_controls, line)
        if self.panel is None or args.refresh:
            models, problem = self._catalogue()
            self.panel = ControlsPanel(
                self.session,
                models=models,
                models_error=problem,
                attachment_model=self._attachment_model(),
                tools=self.session.tools,
            )
        else:
            self.panel.refresh_tools()  # tools registered since it was last shown
        display(widget_bundle(self.panel.view), raw=True)

    def _catalogue(self) -> tuple[list[ModelInfo], str | None]:
        try:
            client = self.session.client(self.chat.attachment)
            return client.available_models(), None
        except (ConfigurationError, APIError) as exc:
            return [], str(exc)

    def _attachment_model(self) -> str | None:
        try:
            return str(self.session.settings(self.chat.attachment).model_id or "") or None
        except ConfigurationError:
            return None

    # -- %%heroku_explore --------------------------------------------------------------------------

    @magic_arguments()
    @argument(
        "--grid",
        action="append",
        metavar="NAME=V1,V2",
        help=f"A setting and the values to try (repeatable; the runs are every combination). NAME is one of {', '.join(GRID_FIELDS)}; thinking takes budgets or off.",
    )
    @argument("--concurrency", type=int, help=f"Requests at the same time (default {DEFAULT_CONCURRENCY}).")
    @argument(
        "--out",
        metavar="VAR",
        help="Store the results (a list; .rows() for dicts, .to_dataframe() with pandas).",
    )
    @request_arguments
    @cell_magic
    def heroku_explore(self, line: str, cell: str) -> None:
        """Run the cell's prompt over a grid of settings, side by side, then compare them.

        Each configuration streams into its own card; when all are done a table compares latency,
        time to first token, tokens, tokens/s and finish reason. Without --grid, a panel lets you pick
        the values and press Run. Examples::

            %%heroku_explore --grid temperature=0,0.5,1 --grid model=claude-4-5-haiku,claude-4-5-sonnet
            Write a haiku about databases.

            %%heroku_explore --grid thinking=off,1024,4096 --out runs
            How many r's are in "strawberry"?
        """
        args = parse_line(self.heroku_explore, line)
        check_variable(args.out)
        check_names(args)
        concurrency = args.concurrency if args.concurrency is not None else self.concurrency
        if concurrency < 1:
            raise UsageError(f"--concurrency must be at least 1, got {concurrency}")
        prompt = prompt_from_cell(cell, "heroku_explore")
        # A grid compares single answers: tools are not run here (each configuration would run them).
        base = options_from_args(args, self.chat).updated(tools=None, tool_choice=None)
        if not args.grid:
            self._picker(prompt, base, args, concurrency)
            return
        self.explore(prompt, base, args.grid, args, concurrency)

    def explore(
        self, prompt: str, base: Any, specs: Sequence[str], args: Any, concurrency: int
    ) -> ExploreResults:
        """Run one grid and show it: live cards, then the static comparison; ``--out`` keeps the results.

        Interrupted, the grid still shows (and keeps) what had finished, then says it was stopped.
        """
        from ..explore import GridInterrupted, configurations, parse_grid, run_grid

        try:
            # The size is checked from the value counts, before a single configuration is built.
            configs = configurations(base, parse_grid(specs, limit=MAX_CONFIGURATIONS))
        except OptionsError as exc:
            raise UsageError(str(exc)) from None
        client = client_for(self.chat, args.addon)
        model = base.model or client.settings.model_id
        system = self.session.conversation(self.session.active).system
        from ..render.chart import sketch_meanwhile

        sketch = sketch_meanwhile(configs)  # the chart's frame is drawn while the requests wait
        view, handle = None, None
        if use_widgets(args, self.chat):
            from ..widgets.display import release, widget_bundle
            from ..widgets.explore import ExploreView

            view = ExploreView(configs, self.session.painter, model=model)
            handle = display(widget_bundle(view.view), raw=True, display_id=True)
        interrupted: GridInterrupted | None = None
        try:
            results = run_grid(
                prompt,
                configs,
                client,
                concurrency=concurrency,
                on_event=view.handle if view else None,
                on_outcome=None if view else _progress_printer(len(configs)),
                on_retry=view.retry if view else _retry_printer,
                system=system,
            )
        except GridInterrupted as stopped:
            results, interrupted = stopped.results, stopped  # shown like a finished grid's, then raised
        except BaseException:
            sketch()  # (its thread ends by itself within moments: wait for it)
            if view is not None:
                view.close()
                release(handle, view.view)
            raise
        if view is not None:
            view.close()
        self._keep(results, args)
        from ..render.static import chart_bundle, explore_bundle

        sketched = sketch()
        # No chart image after an interrupt: the text chart is at once, and Ctrl-C wants the cell back.
        chart = None if interrupted else chart_bundle(results, sketched)
        publish(*explore_bundle(results, prompt, text_chart=chart is None))
        if chart is not None:
            publish(*chart)
        if view is not None:
            release(handle, view.view)  # the static comparison has taken the cards' place
        if interrupted is not None:
            kept = f"; --out {args.out} keeps them" if args.out else ""
            raise Interrupted(f"the grid was stopped: {interrupted}, shown above{kept}") from None
        return results

    def _keep(self, results: ExploreResults, args: Any) -> None:
        """Count what the grid used, and store its results in ``--out``."""
        for outcome in results:
            if outcome.result is not None:
                self.session.record_usage(outcome.result)
        if args.out:
            self.shell.user_ns[args.out] = results  # type: ignore[union-attr]

    def _picker(self, prompt: str, base: Any, args: Any, concurrency: int) -> None:
        """An inline panel: pick values for each setting, press Run."""
        import ipywidgets as widgets

        from ..widgets.display import widget_bundle

        models, _ = self._catalogue()
        fields = {
            "model": widgets.SelectMultiple(
                options=[m.model_id for m in models if m.is_chat]
                or [base.model or self._attachment_model() or "claude-4-5-sonnet"],
                description="model",
                rows=4,
            ),
            "temperature": widgets.Text(placeholder="e.g. 0, 0.5, 1", description="temperature"),
            "top_p": widgets.Text(placeholder="e.g. 0.5, 0.9", description="top_p"),
            "max_tokens": widgets.Text(placeholder="e.g. 100, 400", description="max_tokens"),
            "thinking": widgets.Text(placeholder="e.g. off, 1024, 4096", description="thinking"),
            "effort": widgets.SelectMultiple(options=["low", "medium", "high"], description="effort", rows=3),
        }
        top = max(2 * DEFAULT_CONCURRENCY, concurrency)  # the default mid-range; a larger --concurrency fits
        parallel = widgets.IntSlider(value=concurrency, min=1, max=top, description="concurrency")
        run = widgets.Button(description="Run", button_style="primary", icon="play")
        results_area = widgets.Output()

        def specs() -> list[str]:
            chosen = []
            for name, control in fields.items():
                values = (
                    list(control.value)
                    if isinstance(control.value, tuple)
                    else [v for v in control.value.split(",") if v.strip()]
                )
                if values:
                    chosen.append(f"{name}={','.join(str(v).strip() for v in values)}")
            return chosen

        def on_run(button: Any) -> None:
            results_area.clear_output()
            run.disabled = True
            try:
                # The Output widget shows an exception raised in it as IPython does in a cell, and
                # swallows it: a UsageError or an interrupt is one line under the panel.
                with results_area:
                    self.explore(prompt, base, specs(), args, parallel.value)
            finally:
                run.disabled = False

        run.on_click(on_run)
        panel = widgets.VBox(
            [
                widgets.HTML("<b>Pick the values to compare</b> <small>(empty = the base options)</small>"),
                *fields.values(),
                parallel,
                run,
                results_area,
            ]
        )
        display(widget_bundle(panel), raw=True)


def _retry_printer(index: int, seconds: float) -> None:
    """Without widgets, a line when a rate-limited configuration will be sent again."""
    print(
        f"[configuration {index + 1}] rate limited by Heroku (429): sending again in {seconds:.0f} s",
        flush=True,
    )


def _progress_printer(total: int) -> Callable[[int, Outcome], None]:
    """Without widgets, a line per configuration as it finishes, so a long grid shows progress."""
    finished = 0

    def report(index: int, outcome: Outcome) -> None:
        nonlocal finished
        finished += 1
        print(f"[{finished}/{total}] {outcome.summary()}", flush=True)  # stdout shows as plain text

    return report
