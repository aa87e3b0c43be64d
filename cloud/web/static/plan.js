// The planners' pages: the Plan (a Gantt view per resource with the gap report's shortfalls
// shaded, pending order decisions, manual mode, export) and the Gap report. They read the plan
// API (/api/plan, /api/plan/state, /api/gaps, /api/decisions) and are drawn again whenever the
// server pushes a `plan` event. Loaded after app.js, whose helpers come through window.taktline.
// Who acts is the logged-in user (the session); the server records it in its audit.
"use strict";

(() => {
  const { el, table, text, views } = window.taktline;
  const KINDS = ["machine", "operator", "tool"];
  const SPANS = { all: "whole plan", 8: "8 h", 24: "24 h", 168: "a week" };
  const HOUR = 3600000;
  const MANY_BARS = 3000;
  let span = localStorage.getItem("taktline-span");  // null: by the plan's size
  let shift = 0;  // how many spans the window was moved
  const hues = new Map();
  let drawing = Promise.resolve();

  async function getJSON(path) {
    const response = await fetch(path);
    const body = await response.json();
    if (!response.ok) throw new Error(body.detail || `${path}: HTTP ${response.status}`);
    return body;
  }

  function say(message, bad) {
    const box = document.getElementById("plan-result");
    if (box) { box.textContent = message; box.className = bad ? "flag" : ""; }
  }

  async function act(path, body) {
    const response = await fetch(path, {
      method: "POST", headers: await window.taktlineAuth.headers(), body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) { say(answer.detail || `HTTP ${response.status}`, true); return false; }
    say("done");
    return true;
  }

  // Orders with similar ids (O-1, O-2) get far-apart colours: the golden angle spreads them.
  function hue(order) {
    if (!hues.has(order)) {
      let h = 0;
      for (const c of order) h = (h * 31 + c.charCodeAt(0)) >>> 0;
      hues.set(order, Math.round((h * 137.508) % 360));
    }
    return hues.get(order);
  }

  function minutes(ms) {
    return `${Math.round(ms / 60000)} min`;
  }

  // --- the Gantt view --------------------------------------------------------------------------

  function rowsOf(plan, state) {
    const known = state.resources.slice().sort((a, b) => {
      const ka = KINDS.indexOf(a.kind), kb = KINDS.indexOf(b.kind);
      return (ka < 0 ? 9 : ka) - (kb < 0 ? 9 : kb);
    });
    const ids = new Set(known.map((r) => r.id));
    for (const id of Object.keys(plan.resources)) if (!ids.has(id)) known.push({ id, kind: "", name: "" });
    return known;
  }

  // The window shown: the whole plan, or SPAN hours from just before now (from the first job
  // when the plan starts later, as just-in-time plans do), moved by the ◀ ▶ buttons.
  function extent(plan, now) {
    let first = Infinity, last = -Infinity, bars = 0;
    for (const jobs of Object.values(plan.resources)) {
      for (const j of jobs) {
        if (!j.start || !j.end) continue;
        first = Math.min(first, Date.parse(j.start));
        last = Math.max(last, Date.parse(j.end));
        bars += 1;
      }
    }
    return bars ? { first, last, bars } : { first: now, last: now + HOUR, bars };
  }

  function chosenSpan(bars) {
    return span || (bars > MANY_BARS ? "24" : "all");  // thousands of bars: a day at a time
  }

  function windowOf(ext, now) {
    const chosen = chosenSpan(ext.bars);
    if (chosen === "all") {
      return [Math.floor(Math.min(ext.first, now) / HOUR) * HOUR, Math.ceil(Math.max(ext.last, now + HOUR) / HOUR) * HOUR];
    }
    const width = Number(chosen) * HOUR;
    let from = now - HOUR / 2;
    if (ext.first > from + width) from = ext.first - HOUR / 2;
    from = Math.floor(from / HOUR) * HOUR + shift * width;
    return [from, from + width];
  }

  function esc(value) {
    return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  }

  // Built as one HTML string: a 2,000-order plan has tens of thousands of bars.
  function gantt(plan, state, report) {
    const now = Date.parse(state.now);
    const [t0, t1] = windowOf(extent(plan, now), now);
    const at = (a, b) => {
      const from = Math.max(a, t0), to = Math.min(b, t1);
      return to > from ? `left:${(100 * (from - t0)) / (t1 - t0)}%;width:${(100 * (to - from)) / (t1 - t0)}%` : null;
    };
    const html = [];
    const row = (cls, resource, label, title, inner) => html.push(
      `<div class="gantt-row ${cls}" data-resource="${esc(resource)}"><div class="gantt-label" title="${esc(title)}">${label}</div>`,
      `<div class="gantt-track${resource === "" ? " gantt-axis" : ""}">${inner.join("")}</div></div>`);
    const tick = t1 - t0 > 48 * HOUR ? 6 * HOUR : t1 - t0 > 12 * HOUR ? 2 * HOUR : HOUR;
    const ticks = [];
    for (let t = t0; t < t1; t += tick) {
      const style = at(t, t + tick);
      if (style) ticks.push(`<div class="tick" style="${style}">${new Date(t).toISOString().slice(5, 16).replace("T", " ")}</div>`);
    }
    row("", "", "UTC", "times in UTC", ticks);
    const gapSpan = (g, label) => {
      const style = at(Date.parse(g.start), Date.parse(g.end));
      const title = `gap in ${g.group}: short ${g.shortfall} from ${g.start} to ${g.end}`;
      return style ? `<div class="gap" style="${style}" title="${esc(title)}">${label ? esc(`${g.group} −${g.shortfall}`) : ""}</div>` : "";
    };
    row("gaps-lane", "gaps", "gaps", "the gap report's shortfalls", report.gaps.map((g) => gapSpan(g, true)));
    const shaded = {};
    for (const g of report.gaps) {
      for (const group of g.group.split("+")) {
        for (const member of state.groups[group] || []) (shaded[member] = shaded[member] || []).push(g);
      }
    }
    for (const r of rowsOf(plan, state)) {
      const inner = (shaded[r.id] || []).map((g) => gapSpan(g, false));
      for (const j of plan.resources[r.id] || []) {
        if (!j.start || !j.end) continue;
        const style = at(Date.parse(j.start), Date.parse(j.end));
        if (!style) continue;
        const name = esc(`${j.order}/${j.step}`);
        inner.push(`<div class="bar" data-order="${esc(j.order)}" data-step="${esc(j.step)}" data-start="${esc(j.start)}" `
          + `title="${name}: ${esc(j.start)} – ${esc(j.end)}" style="${style};background:hsl(${hue(j.order)},55%,45%)">${name}</div>`);
      }
      row(`kind-${esc(r.kind)}`, r.id, `${esc(r.id)}<span class="kind"> ${esc(r.kind)}</span>`, `${r.kind} ${r.name || ""}`, inner);
    }
    if (now >= t0 && now <= t1) {
      html.push(`<div class="now-line" title="now ${esc(state.now)}" style="left:calc(var(--label) + (100% - var(--label)) * ${(now - t0) / (t1 - t0)})"></div>`);
    }
    const chart = el("div", { class: "gantt", id: "gantt" });
    chart.innerHTML = html.join("");
    chart.addEventListener("click", (event) => {
      const bar = event.target.closest(".bar");
      if (bar) fillMove(bar.dataset);
    });
    return chart;
  }

  function fillMove(job) {
    const form = document.getElementById("move-form");
    if (!form) return;
    form.elements.order.value = job.order;
    form.elements.step.value = job.step;
    const local = new Date(Date.parse(job.start) - new Date().getTimezoneOffset() * 60000);
    form.elements.start.value = local.toISOString().slice(0, 16);
  }

  // --- the Plan page ---------------------------------------------------------------------------

  function toolbar(state, chosen, redraw) {
    const manual = state.manual.on;
    const toggle = el("button", { id: "manual-toggle", type: "button" }, manual ? "Leave manual mode" : "Enter manual mode");
    toggle.addEventListener("click", async () => { if (await act("/api/manual", { on: !manual })) redraw(); });
    const choose = el("select", { id: "span" });
    for (const [value, label] of Object.entries(SPANS)) choose.append(el("option", { value, selected: value === chosen }, label));
    choose.addEventListener("change", () => { span = choose.value; shift = 0; localStorage.setItem("taktline-span", span); redraw(); });
    const move = (by, label) => {
      const button = el("button", { type: "button", class: "shift", disabled: chosen === "all" }, label);
      button.addEventListener("click", () => { shift = by === 0 ? 0 : shift + by; redraw(); });
      return button;
    };
    return el("div", { class: "toolbar" },
      el("span", { class: manual ? "mode manual" : "mode", id: "mode" },
        manual ? `manual mode (${state.manual.by}): automatic replans wait` : "automatic replanning"),
      toggle, el("label", {}, "Show ", choose), move(-1, "◀"), move(0, "now"), move(1, "▶"),
      el("a", { href: "/api/plan/export", download: "", id: "export" }, "Export plan (JSON)"));
  }

  function moveForm(redraw) {
    const form = el("form", { class: "move", id: "move-form" },
      el("label", {}, "Order ", el("input", { name: "order", size: 10 })),
      el("label", {}, "Step ", el("input", { name: "step", size: 8 })),
      el("label", {}, "Start ", el("input", { name: "start", type: "datetime-local" })),
      el("button", { type: "submit" }, "Move step"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = form.elements;
      if (!f.start.value) { say("pick a start", true); return; }
      const path = `/api/plan/steps/${encodeURIComponent(f.order.value)}/${encodeURIComponent(f.step.value)}`;
      if (await act(path, { start: new Date(f.start.value).toISOString() })) redraw();
    });
    return form;
  }

  function decisionsTable(pending, redraw) {
    const describe = (o) => (o ? `${o.product} × ${o.quantity}, due ${o.due}` : "—");
    return table(["Order", "Received", "From", "Planned now", "Changed to", "Decision"],
      pending.map((d) => {
        const buttons = el("span", { class: "decide", "data-order": d.order });
        for (const [decision, label] of [["new", "New"], ["adjust", "Adjust"]]) {
          const button = el("button", { type: "button", title: decision === "new" ? "a new schedule; the old one does not start" : "keep started and frozen steps, re-place the rest" }, label);
          button.addEventListener("click", async () => {
            if (await act(`/api/decisions/${encodeURIComponent(d.order)}`, { decision })) redraw();
          });
          buttons.append(button, " ");
        }
        return [d.order, d.received, d.source, describe(d.current), describe(d.new), buttons];
      }), "no changed order waits for a decision");
  }

  async function drawPlan(view) {
    const redraw = () => views.plan.draw(view, null);
    let plan, state, report, pending;
    try {
      [plan, state, report, pending] = await Promise.all(
        ["/api/plan", "/api/plan/state", "/api/gaps", "/api/decisions"].map(getJSON));
    } catch (error) {
      view.replaceChildren(el("h2", {}, "Plan"), el("p", { class: "empty" }, error.message));
      return;
    }
    const s = plan.summary;
    const parts = [
      el("h2", {}, `Plan — ${plan.site}`),
      toolbar(state, chosenSpan(extent(plan, Date.parse(state.now)).bars), redraw),
      el("p", { class: "summary" }, `${s.orders} orders: ${s.on_time} on time, ${s.early} early, ${s.late} late, ${s.unplanned} unplanned · `,
        `${report.gaps.length} gap(s) · ${state.replans} replans · order changes: policy ${state.policy}`),
      el("div", { id: "plan-result" }),
      gantt(plan, state, report),
      el("h2", {}, "Order changes waiting for a decision"),
      decisionsTable(pending, redraw),
      state.manual.on ? el("h2", {}, "Move a step (manual mode; click a bar to pick it)") : null,
      state.manual.on ? moveForm(redraw) : null];
    view.replaceChildren(...parts.filter((part) => part !== null));
    document.body.dataset.rendered = `plan-${state.version}`;
    document.body.dataset.planVersion = String(state.version);
  }

  // --- the Gap report page ---------------------------------------------------------------------

  async function drawGaps(view) {
    let report;
    try {
      report = await getJSON("/api/gaps");
    } catch (error) {
      view.replaceChildren(el("h2", {}, "Gap report"), el("p", { class: "empty" }, error.message));
      return;
    }
    const off = Object.fromEntries(report.orders.map((o) => [o.order, o]));
    const effect = (ids, status) => ids.filter((id) => off[id] && off[id].status === status)
      .map((id) => `${id} (${status === "late" ? "+" : "−"}${status === "late" ? off[id].tardiness_min : off[id].earliness_min} min)`).join(", ");
    view.replaceChildren(
      el("h2", {}, "Gap report"),
      el("p", { class: "summary" }, report.gaps.length ? `${report.gaps.length} gap(s); digest ${report.digest.slice(0, 12)}` : "no resource is short"),
      table(["Resource group", "From", "To", "Length", "Shortfall", "Orders made late (by)", "Orders made early (by)", "Tardiness (min)", "Earliness (min)"],
        report.gaps.map((g) => [g.group, window.taktline.when(g.start), window.taktline.when(g.end), minutes(Date.parse(g.end) - Date.parse(g.start)), g.shortfall,
          effect(g.orders, "late") || "—", effect(g.orders, "early") || "—", g.tardiness_min, g.earliness_min]), "no gaps"),
      el("h2", {}, "Orders off their due date"),
      table(["Order", "Status", "Early (min)", "Late (min)", "Cause"],
        report.orders.map((o) => [o.order, o.status, o.earliness_min, o.tardiness_min, o.cause || "—"]), "every order on time"));
    view.querySelector("table")?.setAttribute("id", "gap-table");
    document.body.dataset.rendered = `gaps-${report.digest.slice(0, 12)}`;
  }

  // One drawing at a time: a push arriving mid-draw waits, so the newest data wins. A push while
  // the planner types into a field waits until the field is left (what was typed is kept).
  // The page's own redraws (after an action) go ahead at once.
  function serial(fn) {
    const own = {
      draw: (view, event) => {
        const typing = document.activeElement;
        if (event && typing && view.contains(typing) && typing.tagName === "INPUT") {
          // later than the blur itself, so that a click on the form's button still lands
          typing.addEventListener("blur", () => setTimeout(() => own.draw(view, null), 400), { once: true });
          return drawing;
        }
        drawing = drawing.then(() => fn(view, event)).catch((e) => say(String(e), true));
        return drawing;
      },
    };
    return own;
  }

  views.plan = serial(drawPlan);
  views.gaps = serial(drawGaps);
})();
