"""One turn in a notebook cell: the conversation, the renderers, --confirm, interrupts and --out.

``%%heroku_chat`` and ``%%heroku_agent`` differ in their client (chat completions, or Heroku's
agents endpoint) and their options; what a cell does with a turn is the same, and lives here:
continue the cell's conversation (re-running a cell replaces its turn), stream into the live view
(or plain text), leave the static output, ask before tools run, say what an interrupt kept.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import Interrupted
from .support import ChatConfig, publish, usage_errors, use_widgets

if TYPE_CHECKING:
    from ..client import ChatClient
    from ..events import ChatResult, Content, ToolCall
    from ..options import ChatOptions
    from ..render import Renderer
    from ..result import ResponseState
    from ..widgets.live import LiveView


def converse(
    config: ChatConfig,
    args: Any,
    prompt: Content,
    options: ChatOptions,
    client: ChatClient,
    *,
    model: str | None,
    text_format: str = "markdown",
) -> ChatResult:
    """Run one turn for the cell and show it; returns its result (also stored in ``--out``)."""
    from ..model_rules import check_request
    from ..render import drive
    from ..result import ResponseState

    if model:  # the client checks again when sending; here, before the cell shows anything
        with usage_errors():
            check_request(options, model, [{"role": "user", "content": prompt}])
    session = config.session
    name = args.conversation or session.active
    conversation = session.conversation(name, new=args.new)
    if conversation.system is None and config.system and options.system is None:
        conversation.system = config.system
    session.record_request(options, model)
    one_off = getattr(args, "no_history", False)
    state = ResponseState()  # the stream folds its events into it; the live view reads it
    images = image_outputs(prompt)
    show(images)  # above the answer, as outputs of their own: the static output leaves them
    live, renderers = _renderers(config, args, model, state, text_format, images)
    approve = _approver(live) if getattr(args, "confirm", False) else None
    if one_off:
        events = _one_off(conversation, prompt, options, client, state, approve)
    else:
        key = config.current_cell_id()
        events = conversation.stream(prompt, options, key=key, client=client, state=state, approve=approve)
    turns_before = list(conversation.turns)  # to tell, on an interrupt, whether a turn was kept
    try:
        with usage_errors():
            result = drive(events, renderers, state)
    except KeyboardInterrupt:
        if one_off:
            message = "the response was stopped; nothing was recorded (--no-history)"
        elif _same_turns(conversation.turns, turns_before):
            # The conversation records an interrupted turn only when some answer had arrived.
            message = f"the response was stopped: nothing had arrived; conversation {name!r} is unchanged"
        else:
            message = (
                "the response was stopped; the partial answer stays above "
                f"(kept in conversation {name!r}, marked interrupted)"
            )
        raise Interrupted(message) from None
    finally:
        session.record_usage(state.result())  # what was used counts, even when the turn failed
    if args.out:
        config.shell.user_ns[args.out] = result
    return result


def image_outputs(prompt: Content) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """An output per image sent: its thumbnail (the product's own ``image/png``), or its ``[image: ...]`` line."""
    from ..events import content_text
    from ..image_sizes import thumbnail
    from ..images import image_parts

    outputs: list[tuple[dict[str, str], dict[str, Any]]] = []
    for part in image_parts(prompt):
        line = content_text((part,))
        small = thumbnail(part)
        if small is None:
            outputs.append(({"text/plain": line}, {}))
            continue
        png, width, height = small
        data = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": line}
        outputs.append((data, {"image/png": {"width": width, "height": height}}))
    return outputs


def show(outputs: list[tuple[dict[str, str], dict[str, Any]]]) -> None:
    """Display outputs made earlier (each a MIME bundle and its metadata)."""
    for data, metadata in outputs:
        publish(data, metadata)


def _renderers(
    config: ChatConfig,
    args: Any,
    model: str | None,
    state: ResponseState,
    text_format: str,
    images: list[tuple[dict[str, str], dict[str, Any]]],
) -> tuple[LiveView | None, list[Renderer]]:
    from ..render.static import StaticRenderer
    from ..render.text import TextRenderer

    static = StaticRenderer(publish, text_format)
    if use_widgets(args, config):
        from ..widgets.live import POOL, LiveCell, LiveView

        widget = POOL.take(model or "")
        live = LiveView(state, config.session.painter, text_format=text_format, widget=widget)
        return live, [LiveCell(live, static)]
    # A terminal already shows the streamed text. In a kernel the text streams, then gives way to
    # the static result (shown once, as the saved notebook keeps it); elsewhere both stay.
    if type(config.shell).__name__ == "TerminalInteractiveShell":
        return None, [TextRenderer()]
    if getattr(config.shell, "kernel", None) is not None:
        return None, [TextRenderer(), _ClearStreamed(lambda: show(images)), static]
    return None, [static, TextRenderer()]


class _ClearStreamed:
    """At the end, clears the text streamed into the cell: the static result, published next, replaces it."""

    def __init__(self, redraw: Callable[[], None]) -> None:
        self._redraw = redraw  # what stood above the streamed text (the images' thumbnails)

    def handle(self, event: Any) -> None:
        """Nothing while streaming."""

    def close(self, result: Any, error: BaseException | None) -> None:
        """Clear the cell's output once the next output arrives (no flicker), and show the thumbnails again."""
        from IPython.display import clear_output

        clear_output(wait=True)
        self._redraw()


def _approver(live: LiveView | None) -> Callable[[ToolCall], bool]:
    """How --confirm asks: the live view's buttons where the kernel can wait for clicks, else input()."""
    from ..widgets.wait import can_wait

    if live is not None and can_wait():
        return live.approve
    return _ask_in_text


def _ask_in_text(call: ToolCall) -> bool:
    """--confirm without widgets: ask on the input line."""
    answer = input(f"Run tool {call.name}({call.arguments})? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _one_off(
    conversation: Any,
    prompt: Content,
    options: ChatOptions,
    client: ChatClient,
    state: ResponseState,
    approve: Callable[[ToolCall], bool] | None,
) -> Any:
    """A turn sent without history and not recorded (--no-history)."""
    from ..images import image_notes
    from ..respond import request_messages
    from ..turn import run_turn

    system = conversation.system if options.system is None else options.system
    messages = request_messages(prompt, system)
    return run_turn(client, messages, options, state, approve=approve, notices=image_notes(prompt))


def _same_turns(turns: list[Any], before: list[Any]) -> bool:
    """Whether a conversation still holds exactly the turn objects it held before."""
    return len(turns) == len(before) and all(a is b for a, b in zip(turns, before, strict=True))
