"""The controls panel: ipywidgets whose state is the session's default options for later cells.

The panel knows Heroku's rules and shows them: turning extended thinking on sets the temperature to
1 and switches top_p off, with a note saying why; temperature and top_p are one choice ("sampling"),
so they are never both sent. A line shows what the next cell will send, another what the last sent.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..catalog import ModelInfo
from ..model_rules import rules_for
from ..options import (
    DEFAULT_MAX_TOOL_ROUNDS,
    EFFORTS,
    MIN_THINKING_BUDGET,
    TOOL_CHOICES,
    ChatOptions,
    Thinking,
)
from ..session import Session, describe_request

if TYPE_CHECKING:
    from ..tools import Tool

SAMPLING = (("model default", "default"), ("temperature", "temperature"), ("top_p", "top_p"))
THINKING_NOTE = (
    "Extended thinking is on: Heroku requires temperature 1 and no top_p, so they are set for you."
)


def model_label(model: ModelInfo) -> str:
    """A dropdown label: the id and what the model supports, where known."""
    features = [name for name in ("thinking", "vision", "tools") if getattr(model, name)]
    return f"{model.model_id} · {', '.join(features)}" if features else model.model_id


class ControlsPanel:
    """Widgets bound to ``session.defaults``; ``view`` is what to display."""

    def __init__(
        self,
        session: Session,
        *,
        models: Sequence[ModelInfo] = (),
        models_error: str | None = None,
        attachment_model: str | None = None,
        tools: Mapping[str, Tool] | None = None,
    ) -> None:
        self.session = session
        self._attachment_model = attachment_model
        style = {"description_width": "120px"}
        wide = widgets.Layout(width="520px")
        chat_models = [m for m in models if m.is_chat]
        default_label = (
            f"attachment default ({attachment_model})"
            if attachment_model
            else "attachment default (none set)"
        )
        self.model = widgets.Dropdown(
            # ipywidgets treats a None value as "nothing selected", so "" stands for the attachment default.
            options=[(default_label, ""), *((model_label(m), m.model_id) for m in chat_models)],
            description="Model",
            style=style,
            layout=wide,
        )
        self.models_note = widgets.HTML(
            f"<small>Model list unavailable: {html.escape(models_error)}</small>" if models_error else ""
        )
        self.sampling = widgets.ToggleButtons(options=SAMPLING, description="Sampling", style=style)
        self.temperature = widgets.FloatSlider(
            value=1.0, min=0.0, max=1.0, step=0.05, description="Temperature", style=style, layout=wide
        )
        self.top_p = widgets.FloatSlider(
            value=0.9, min=0.05, max=1.0, step=0.05, description="top_p", style=style, layout=wide
        )
        self.max_tokens = widgets.BoundedIntText(
            value=0, min=0, max=200_000, description="Max tokens", style=style
        )
        self.max_tokens_note = widgets.HTML("<small>0 = the model's default</small>")
        self.stop = widgets.TagsInput(value=[], allow_duplicates=False, layout=wide)
        self.thinking = widgets.Checkbox(
            value=False, description="Extended thinking", style=style, indent=False
        )
        self.budget = widgets.IntSlider(
            value=MIN_THINKING_BUDGET,
            min=MIN_THINKING_BUDGET,
            max=32_768,
            step=512,
            description="Budget",
            style=style,
            layout=wide,
        )
        self.show_reasoning = widgets.Checkbox(value=True, description="Show reasoning", indent=False)
        self.rules_note = widgets.HTML()
        self.effort = widgets.Dropdown(
            options=[("not set", ""), *((e, e) for e in EFFORTS)],
            description="Reasoning effort",
            style=style,
        )
        self._registry: Mapping[str, Tool] = tools if tools is not None else {}
        self.tools = widgets.SelectMultiple(options=[], description="Tools", rows=4, style=style, layout=wide)
        self.tools_note = widgets.HTML()
        self.tool_choice = widgets.Dropdown(
            options=[("model decides (auto)", ""), *((c, c) for c in TOOL_CHOICES if c != "auto")],
            description="Tool choice",
            style=style,
        )
        self.parallel_tools = widgets.Dropdown(
            options=[("default", None), ("allowed", True), ("one at a time", False)],
            description="Parallel calls",
            style=style,
        )
        self.max_tool_rounds = widgets.BoundedIntText(
            value=DEFAULT_MAX_TOOL_ROUNDS, min=0, max=100, description="Tool rounds", style=style
        )
        self.refresh_tools()
        self.json_mode = widgets.Checkbox(value=False, description="JSON answers (--json)", indent=False)
        self.allow_ignored = widgets.Checkbox(
            value=False, description="Let Heroku ignore unsupported fields", indent=False
        )
        self.system = widgets.Textarea(
            placeholder="System prompt (optional)",
            description="System",
            style=style,
            layout=widgets.Layout(width="520px", height="70px"),
        )
        self.conversation = widgets.Combobox(
            value=session.active,
            options=sorted(session.conversations) or [session.active],
            description="Conversation",
            style=style,
            ensure_option=False,
        )
        self.reset = widgets.Button(
            description="Reset conversation",
            icon="trash",
            button_style="warning",
            layout=widgets.Layout(width="auto"),
        )
        self.reset_note = widgets.HTML()
        self.next_request = widgets.HTML()
        self.last_request = widgets.HTML()

        self.view = widgets.VBox(
            [
                widgets.HTML(
                    "<b>Heroku chat controls</b> <small>— later <code>%%heroku_chat</code> cells use these; options on a cell still win.</small>"
                ),
                self.model,
                self.models_note,
                self.sampling,
                self.temperature,
                self.top_p,
                widgets.HBox([self.max_tokens, self.max_tokens_note]),
                widgets.HBox(
                    [widgets.Label("Stop sequences", layout=widgets.Layout(width="120px")), self.stop]
                ),
                widgets.HBox([self.thinking, self.show_reasoning]),
                self.budget,
                self.rules_note,
                self.effort,
                self.tools,
                self.tools_note,
                widgets.HBox([self.tool_choice, self.parallel_tools, self.max_tool_rounds]),
                widgets.HBox([self.json_mode, self.allow_ignored]),
                self.system,
                widgets.HBox([self.conversation, self.reset, self.reset_note]),
                self.next_request,
                self.last_request,
            ],
            layout=widgets.Layout(
                border="1px solid var(--jp-border-color2, #ccc)", padding="6px", width="fit-content"
            ),
        )
        self.view.add_class("heroku-magic-controls")
        self._load(session.defaults)
        for control in (
            self.model,
            self.sampling,
            self.temperature,
            self.top_p,
            self.max_tokens,
            self.stop,
            self.thinking,
            self.budget,
            self.show_reasoning,
            self.effort,
            self.system,
            self.conversation,
            self.tools,
            self.tool_choice,
            self.parallel_tools,
            self.max_tool_rounds,
            self.json_mode,
            self.allow_ignored,
        ):
            control.observe(self._changed, names="value")
        self.reset.on_click(self._reset)
        session.on_change(self._show_last)
        self._changed()
        self._show_last()

    # -- state -------------------------------------------------------------------------------------

    @property
    def options(self) -> ChatOptions:
        """The options the panel stands for (what later cells default to)."""
        thinking = self.thinking.value
        sampling = "default" if thinking else self.sampling.value
        tools = tuple(self._registry[name] for name in self.tools.value if name in self._registry)
        rounds = self.max_tool_rounds.value
        return ChatOptions(
            model=self.model.value or None,
            system=self.system.value or None,
            temperature=1.0
            if thinking
            else (round(self.temperature.value, 2) if sampling == "temperature" else None),
            top_p=round(self.top_p.value, 2) if sampling == "top_p" else None,
            max_tokens=self.max_tokens.value or None,
            stop=tuple(self.stop.value) or None,
            thinking=Thinking(self.budget.value, include_reasoning=self.show_reasoning.value)
            if thinking
            else None,
            reasoning_effort=self.effort.value or None,
            tools=tools or None,
            tool_choice=self.tool_choice.value or None,
            parallel_tool_calls=self.parallel_tools.value,
            max_tool_rounds=None if rounds == DEFAULT_MAX_TOOL_ROUNDS else rounds,
            response_format="json_object" if self.json_mode.value else None,
            allow_ignored_params=True if self.allow_ignored.value else None,
        )

    def refresh_tools(self) -> None:
        """List the registered tools (name and description), keeping the selection of those still there."""
        chosen = [name for name in self.tools.value if name in self._registry]
        self.tools.options = [
            (f"{name} — {_first_line(tool.description)}", name) for name, tool in self._registry.items()
        ]
        self.tools.value = tuple(chosen)
        self.tools_note.value = (
            "<small>Ctrl/⌘-click to choose several; they are offered to the model in later cells.</small>"
            if self._registry
            else "<small>No tools registered yet: decorate a function with <code>@heroku_magic.tool</code>.</small>"
        )

    def _load(self, options: ChatOptions) -> None:
        """Set the widgets from existing defaults (the state survives displaying the panel again)."""
        values = [value for _, value in self.model.options]
        if options.model is not None and options.model not in values:
            self.model.options = [*self.model.options, (options.model, options.model)]
        self.model.value = options.model or ""
        self.thinking.value = options.thinking is not None
        if options.thinking is not None:
            self.budget.value = options.thinking.budget_tokens
            self.show_reasoning.value = options.thinking.include_reasoning
        if options.top_p is not None:
            self.sampling.value, self.top_p.value = "top_p", options.top_p
        elif options.temperature is not None and options.thinking is None:
            self.sampling.value, self.temperature.value = "temperature", options.temperature
        self.max_tokens.value = options.max_tokens or 0
        self.stop.value = list(options.stop or ())
        self.effort.value = options.reasoning_effort or ""
        self.system.value = options.system or ""
        self.json_mode.value = options.response_format == "json_object"
        self.allow_ignored.value = bool(options.allow_ignored_params)
        self.tools.value = tuple(t.name for t in options.tools or () if t.name in self._registry)
        self.tool_choice.value = options.tool_choice if options.tool_choice in TOOL_CHOICES else ""
        self.parallel_tools.value = options.parallel_tool_calls
        self.max_tool_rounds.value = (
            options.max_tool_rounds if options.max_tool_rounds is not None else DEFAULT_MAX_TOOL_ROUNDS
        )

    def _changed(self, change: Any = None) -> None:
        thinking = self.thinking.value
        self.budget.disabled = self.show_reasoning.disabled = not thinking
        self.sampling.disabled = thinking
        self.temperature.disabled = thinking or self.sampling.value != "temperature"
        self.top_p.disabled = thinking or self.sampling.value != "top_p"
        if thinking:
            self.temperature.value = 1.0
        model = self.model.value or self._attachment_model
        notes = [THINKING_NOTE] if thinking else []
        if model and rules_for(model).vision is False:
            notes.append(f"{model} takes no images: %%heroku_chat --image is refused with it.")
        self.rules_note.value = "".join(f"<small>ⓘ {html.escape(note)}</small><br>" for note in notes)
        self.session.defaults = self.options
        if self.conversation.value:
            self.session.active = self.conversation.value
        shown = describe_request(self.session.defaults, self.session.defaults.model or self._attachment_model)
        self.next_request.value = f"<small><b>Next request:</b> {html.escape(_line(shown))} · conversation={html.escape(self.session.active)}</small>"

    def _show_last(self) -> None:
        last = self.session.last_request
        self.last_request.value = (
            f"<small><b>Last request:</b> {html.escape(_line(last))}</small>"
            if last
            else "<small><b>Last request:</b> none yet</small>"
        )

    def _reset(self, button: Any = None) -> None:
        cleared = self.session.reset(self.session.active)
        self.reset_note.value = (
            f"<small>Cleared {html.escape(', '.join(cleared))}.</small>"
            if cleared
            else "<small>Nothing to clear.</small>"
        )


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 60 else line[:59] + "…"


def _line(shown: dict[str, Any]) -> str:
    return " · ".join(f"{name}={value}" for name, value in shown.items())
