// The browser side of a live chat view (heroku_magic/widgets/live.py sends it patches; what a patch
// holds is described in heroku_magic/render/live.py).
//
// HTML arrives only in `html` fields, from the kernel's sanitizing renderer; everything else (the
// unfinished tail, model names, tool calls, titles) is inserted as text, never parsed as HTML.
// Patches are kept by the model, not the view: a view created later (a notebook scrolled back, a
// second view of the same output) draws everything that arrived before it.

const TICK_MS = 100;
const pages = new Map(); // one page per model (keyed by the model's own key)

function blankPage() {
  return {
    answer: { html: [], tail: "" },
    reasoning: { html: [], tail: "" },
    thinking: null,
    collapsed: false,
    tools: [],
    clock: { elapsed: 0, model: null, tokens: null, at: performance.now() },
  };
}

async function inflate(patch, buffers) {
  for (const name of ["answer", "reasoning"]) {
    const change = patch[name];
    if (change && change.z !== undefined) {
      const deflated = new Blob([buffers[change.z]]).stream().pipeThrough(new DecompressionStream("deflate"));
      change.html = await new Response(deflated).text();
    }
  }
  return patch;
}

function applyColumn(column, change) {
  if (change.html) column.html.push(change.html);
  column.tail = change.reset ? change.tail : column.tail + change.tail;
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

class View {
  constructor(model, el, page) {
    this.model = model;
    this.page = page;
    this.el = el;
    this.build();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  build() {
    const page = this.page;
    const model = this.model;
    const root = element("div", "heroku-magic-chat", this.el);
    this.root = root;
    const title = model.get("title");
    if (title) {
      root.classList.add("hm-card");
      element("div", "hm-title", root).textContent = title;
    }
    this.status = element("div", "hm-status", root);
    this.details = element("details", "hm-reasoning", root);
    this.summary = element("summary", "", this.details);
    this.reasoning = column(this.details, "hm-column");
    this.answer = column(root, "hm-column hm-answer");
    this.tools = element("div", "hm-tools", root);
    this.footer = element("div", "hm-footer", root);
    this.details.hidden = true;
    for (const name of ["reasoning", "answer"]) {
      drawColumn(this[name], { html: page[name].html.join(""), tail: page[name].tail, reset: true });
    }
    this.draw({ collapse: page.collapsed, tools: page.tools });
    this.tick();
  }

  rebuild() {
    this.root.remove();
    this.build();
  }

  draw(patch) {
    if (patch.reasoning) drawColumn(this.reasoning, patch.reasoning);
    if (patch.reasoning || this.page.reasoning.html.length || this.page.reasoning.tail) {
      if (this.details.hidden) {
        this.details.hidden = false;
        this.details.open = !this.page.collapsed;
      }
    }
    if (patch.collapse) this.details.open = false;
    if (patch.answer) drawColumn(this.answer, patch.answer);
    if (patch.tools && patch.tools.length) {
      this.tools.replaceChildren(
        ...patch.tools.map((call) => {
          const line = document.createElement("div");
          line.append("🔧 ", Object.assign(document.createElement("code"), { textContent: call }));
          return line;
        }),
      );
    }
  }

  tick() {
    const page = this.page;
    const now = elapsed(page);
    const model = page.clock.model || this.model.get("model_name") || "the model";
    const note = this.model.get("note");
    const started = page.answer.html.length || page.answer.tail || page.reasoning.html.length
      || page.reasoning.tail || page.tools.length;
    this.status.textContent = note || (started ? "" : `⏳ Waiting for ${model}… ${now.toFixed(1)} s`);
    if (page.thinking && page.thinking.start !== null) {
      const end = page.thinking.end === null ? now : page.thinking.end;
      const seconds = (end - page.thinking.start).toFixed(1);
      this.summary.textContent = page.thinking.end === null ? `Thinking… ${seconds} s` : `Thought for ${seconds} s`;
    }
    if (!note) {
      const tokens = page.clock.tokens === null ? "" : ` · ${page.clock.tokens} tokens`;
      this.footer.textContent = `${model} · ${now.toFixed(1)} s${tokens}`;
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
    // Deflated HTML is inflated asynchronously: patches are applied one after another, in order.
    let queue = Promise.resolve();
    model.on("msg:custom", (patch, buffers) => {
      queue = queue
        .then(() => inflate(patch, buffers))
        .then(apply)
        .catch((error) => console.error("heroku_magic: a live view patch failed", error));
    });
    const apply = (patch) => {
      if (patch.clear) {
        // The configuration is sent again (it was rate-limited): start from a blank page.
        Object.assign(page, blankPage());
        for (const view of page.views) view.rebuild();
        return;
      }
      if (patch.reasoning) applyColumn(page.reasoning, patch.reasoning);
      if (patch.answer) applyColumn(page.answer, patch.answer);
      if (patch.thinking) page.thinking = patch.thinking;
      if (patch.collapse) page.collapsed = true;
      if (patch.tools) page.tools = patch.tools;
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
    };
  },
};
