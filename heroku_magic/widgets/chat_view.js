// The browser side of a live chat view (heroku_magic/widgets/live.py sends it patches; what a patch
// holds is described in heroku_magic/render/live.py).
//
// HTML arrives only in `html` fields, from the kernel's sanitizing renderer; everything else (the
// unfinished tail, model names, tool names, arguments and results, titles) is inserted as text,
// never parsed as HTML. Patches are kept by the model, not the view: a view created later (a
// notebook scrolled back, a second view of the same output) draws everything that arrived before it.
// A model serves one cell after another (the kernel keeps a pool): each turn's first patch names it.

const TICK_MS = 100;
const pages = new Map(); // one page per model (keyed by the model's own key)

function blankStep() {
  return {
    answer: { html: [], tail: "" },
    reasoning: { html: [], tail: "" },
    thinking: null,
    collapsed: false,
    cards: [],
  };
}

function blankPage() {
  return {
    turn: null, // the id of the turn drawn (a pooled model shows a new cell's turn after the last)
    steps: [blankStep()],
    notices: [],
    clock: { elapsed: 0, model: null, tokens: null, at: performance.now() },
  };
}

async function inflate(patch, buffers) {
  for (const step of patch.steps || []) {
    for (const name of ["answer", "reasoning"]) {
      const change = step[name];
      if (change && change.z !== undefined) {
        const deflated = new Blob([buffers[change.z]]).stream().pipeThrough(new DecompressionStream("deflate"));
        change.html = await new Response(deflated).text();
      }
    }
  }
  return patch;
}

function applyColumn(column, change) {
  if (change.html) column.html.push(change.html);
  column.tail = change.reset ? change.tail : column.tail + change.tail;
}

function applyCard(card, change) {
  if (change.name) card.name = change.name;
  if (change.args) card.args += change.args;
  for (const key of ["id", "state", "summary", "result"]) if (change[key] !== undefined) card[key] = change[key];
}

function applyStep(step, change) {
  if (change.reasoning) applyColumn(step.reasoning, change.reasoning);
  if (change.answer) applyColumn(step.answer, change.answer);
  if (change.thinking) step.thinking = change.thinking;
  if (change.collapse) step.collapsed = true;
  for (const card of change.cards || []) {
    while (step.cards.length <= card.i) step.cards.push({ name: "", args: "", state: "streaming" });
    applyCard(step.cards[card.i], card);
  }
}

function elapsed(page) {
  return page.clock.elapsed + (performance.now() - page.clock.at) / 1000;
}

function element(tag, className, parent) {
  const node = document.createElement(tag);
  node.className = className;
  parent.appendChild(node);
  return node;
}

function column(parent, className) {
  const root = element("div", className, parent);
  // JupyterLab's styles for rendered HTML, as on the static result that replaces the view (whose
  // blocks are likewise direct children): the same fonts, spacing, lists, tables and code blocks.
  const blocks = element("div", "hm-blocks jp-RenderedHTMLCommon", root);
  const tail = element("div", "hm-tail jp-RenderedHTMLCommon", root);
  return { blocks, text: tail.appendChild(document.createTextNode("")) };
}

function drawColumn(view, change) {
  if (change.html) view.blocks.insertAdjacentHTML("beforeend", change.html);
  if (change.reset) view.text.data = change.tail;
  else view.text.appendData(change.tail);
}

const CARD_STATES = {
  streaming: "…",
  awaiting: "waiting for your approval",
  running: "running…",
};

// One tool call: a collapsible card whose every text is inserted as text.
class CardView {
  constructor(parent, model) {
    this.model = model;
    this.root = element("details", "hm-card-tool", parent);
    this.root.open = true;
    this.summary = element("summary", "", this.root);
    this.args = element("pre", "hm-args", this.root);
    this.buttons = element("div", "hm-approval", this.root);
    this.result = element("pre", "hm-result", this.root);
    this.result.hidden = true;
  }

  draw(card) {
    // Approved or denied calls start together, once every call of the step has been answered.
    const state = card.state === "awaiting" && card.answered ? "answered; waiting for the other calls…"
      : CARD_STATES[card.state];
    this.summary.textContent = card.summary || `🔧 ${card.name || "tool"} ${state || ""}`;
    this.args.textContent = card.args;
    this.root.classList.toggle("hm-error", card.state === "error");
    if (card.result !== undefined) {
      this.result.hidden = false;
      this.result.textContent = card.result;
    }
    if (card.state === "awaiting" && !this.buttons.childElementCount && !card.answered) {
      for (const [label, approved] of [["Approve", true], ["Deny", false]]) {
        const button = element("button", `hm-${label.toLowerCase()}`, this.buttons);
        button.textContent = label;
        button.onclick = () => {
          card.answered = true;
          this.buttons.replaceChildren();
          this.model.send({ approve: card.id, approved });
        };
      }
    }
    if (card.state !== "awaiting") this.buttons.replaceChildren();
  }
}

// One step (model call): its reasoning, its answer, its tool cards.
class StepView {
  constructor(parent, model) {
    this.model = model;
    this.root = element("div", "hm-step", parent);
    this.details = element("details", "hm-reasoning", this.root);
    this.summary = element("summary", "", this.details);
    this.reasoning = column(this.details, "hm-column");
    this.answer = column(this.root, "hm-column hm-answer");
    this.tools = element("div", "hm-tools", this.root);
    this.cards = [];
    this.details.hidden = true;
  }

  drawAll(step) {
    for (const name of ["reasoning", "answer"]) {
      drawColumn(this[name], { html: step[name].html.join(""), tail: step[name].tail, reset: true });
    }
    this.draw(step, { collapse: step.collapsed, cards: step.cards.map((_, i) => ({ i })) });
  }

  draw(step, change) {
    if (change.reasoning) drawColumn(this.reasoning, change.reasoning);
    if (this.details.hidden && (step.reasoning.html.length || step.reasoning.tail)) {
      this.details.hidden = false;
      this.details.open = !step.collapsed;
    }
    if (change.collapse) this.details.open = false;
    if (change.answer) drawColumn(this.answer, change.answer);
    for (const card of change.cards || []) {
      while (this.cards.length <= card.i) this.cards.push(new CardView(this.tools, this.model));
      this.cards[card.i].draw(step.cards[card.i]);
    }
  }

  tick(step, now) {
    if (step.thinking && step.thinking.start !== null) {
      const end = step.thinking.end === null ? now : step.thinking.end;
      const seconds = (end - step.thinking.start).toFixed(1);
      this.summary.textContent = step.thinking.end === null ? `Thinking… ${seconds} s` : `Thought for ${seconds} s`;
    }
  }
}

class View {
  constructor(model, el, page) {
    this.model = model;
    this.page = page;
    this.el = el;
    this.build();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  build() {
    const model = this.model;
    const root = element("div", "heroku-magic-chat", this.el);
    this.root = root;
    const title = model.get("title");
    if (title) {
      root.classList.add("hm-card");
      element("div", "hm-title", root).textContent = title;
    }
    this.status = element("div", "hm-status", root);
    this.body = element("div", "hm-steps", root);
    this.notices = element("div", "hm-notices", root);
    this.footer = element("div", "hm-footer", root);
    this.steps = [];
    this.page.steps.forEach((step, n) => this.stepView(n).drawAll(step));
    this.drawNotices();
    this.tick();
  }

  stepView(n) {
    while (this.steps.length <= n) this.steps.push(new StepView(this.body, this.model));
    return this.steps[n];
  }

  rebuild() {
    this.root.remove();
    this.build();
  }

  draw(patch) {
    for (const change of patch.steps || []) this.stepView(change.n).draw(this.page.steps[change.n], change);
    if (patch.notices) this.drawNotices();
  }

  drawNotices() {
    this.notices.replaceChildren(
      ...this.page.notices.map((text) => Object.assign(document.createElement("div"), { textContent: text })),
    );
  }

  tick() {
    const page = this.page;
    const now = elapsed(page);
    const model = page.clock.model || this.model.get("model_name") || "the model";
    const note = this.model.get("note");
    const first = page.steps[0];
    const started = page.steps.length > 1 || first.answer.html.length || first.answer.tail
      || first.reasoning.html.length || first.reasoning.tail || first.cards.length;
    this.status.textContent = note || (started ? "" : `⏳ Waiting for ${model}… ${now.toFixed(1)} s`);
    page.steps.forEach((step, n) => this.stepView(n).tick(step, now));
    if (!note) {
      const tokens = page.clock.tokens === null ? "" : ` · ${page.clock.tokens} tokens`;
      const calls = page.steps.length > 1 ? ` · ${page.steps.length} model calls` : "";
      this.footer.textContent = `${model} · ${now.toFixed(1)} s${tokens}${calls}`;
    }
  }

  remove() {
    clearInterval(this.timer);
  }
}

export default {
  initialize({ model }) {
    const key = model.get("key");
    const page = { ...blankPage(), views: new Set() };
    pages.set(key, page);
    // Deflated HTML is inflated asynchronously: patches (and blanking) happen one after another, in order.
    let queue = Promise.resolve();
    page.later = (step) => {
      queue = queue.then(step).catch((error) => console.error("heroku_magic: a live view patch failed", error));
    };
    page.blank = () => {
      Object.assign(page, blankPage());
      for (const view of page.views) view.rebuild();
    };
    model.on("msg:custom", (patch, buffers) => page.later(() => inflate(patch, buffers).then(apply)));
    const apply = (patch) => {
      if (patch.clear) {
        // The configuration is sent again (it was rate-limited): start from a blank page.
        page.blank();
        return;
      }
      if (patch.start !== undefined && patch.start !== page.turn) {
        // A new turn's first paint: should a frontend have kept the last cell's view, start afresh.
        page.blank();
        page.turn = patch.start;
      }
      for (const change of patch.steps || []) {
        while (page.steps.length <= change.n) page.steps.push(blankStep());
        applyStep(page.steps[change.n], change);
      }
      if (patch.notices) page.notices.push(...patch.notices);
      if (patch.clock) page.clock = { ...patch.clock, at: performance.now() };
      for (const view of page.views) {
        view.draw(patch);
        view.tick();
      }
    };
    return () => pages.delete(key);
  },

  render({ model, el }) {
    const page = pages.get(model.get("key"));
    const view = new View(model, el, page);
    page.views.add(view);
    return () => {
      view.remove();
      page.views.delete(view);
      if (!page.views.size) {
        // The static output took the view's place: the model waits in the kernel's pool for the
        // next cell, whose view must open blank ("Waiting for…"), not on this answer. After the
        // patches already queued; not if a view came back or the next turn began meanwhile.
        const turn = page.turn;
        page.later(() => {
          if (!page.views.size && page.turn === turn) page.blank();
        });
      }
    };
  },
};
