// The planners' pages: the Plan (the Gantt of gantt.js with a legend, the selected order's chain
// and cause, an order list with search and filters, pending order decisions, manual mode, export;
// the Gap report page is gaps.js). It reads the plan API (/api/plan, /api/plan/state, /api/gaps,
// /api/decisions, /api/plan/orders/{order}/causes and .../rootcause) and is drawn again whenever the server pushes
// a `plan` event; the chart keeps its window, zoom and selection across pushes. Loaded after
// app.js and gantt.js, whose helpers come through window.taktline and window.taktlineGantt.
// Who acts is the logged-in user (the session); the server records it in its audit.
"use strict";

(() => {
  const { el, text, table, views } = window.taktline;
  const { Gantt, legend, duration, HOUR } = window.taktlineGantt;
  const ZOOMS = [[1, "1 h"], [2, "2 h"], [4, "4 h"], [8, "8 h"], [24, "24 h"], [72, "3 days"], [168, "a week"]];
  const LISTED = 200;  // orders listed at once (search narrows them)
  const filters = { q: "", late: false, product: "", customer: "" };
  let chart = null;
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

  // --- the Gantt (gantt.js) and what goes with it: the selected order, the order list --------

  let linked = false;  // the ?order= of the page's address was selected

  // One chart for the page's life: a push redraws it with new data, its window, zoom and
  // selection stay where the planner left them.
  function theChart() {
    if (!chart) {
      const saved = Number(localStorage.getItem("taktline-span-ms")) || null;
      chart = new Gantt({ span: saved, onSelect: (order) => showOrder(order), onPick: (job) => fillMove(job) });
      window.taktlineGantt.current = chart;
    }
    return chart;
  }

  // The selected order beside the chart: its master fields, timing and why it is off its due.
  async function showOrder(order) {
    const box = document.getElementById("order-panel");
    if (!box) return;
    if (!order) { box.replaceChildren(el("p", { class: "empty" }, "Click a bar or an order to see its chain and why it is late.")); return; }
    const z = chart.zone;
    const off = order.late ? `late by ${duration(order.tardiness * 60000)}` : order.status === "early" ? `early by ${duration(order.earliness * 60000)}` : order.status.replace("_", " ");
    box.replaceChildren(
      el("h3", {}, order.id, el("span", { class: `status ${order.status}` }, ` ${off}`)),
      el("p", {}, `${order.product}${order.quantity ? ` × ${order.quantity}` : ""}${order.customer ? ` · customer ${order.customer}` : ""}`),
      el("p", {}, `due ${z.stamp(order.due)} · ends ${Number.isNaN(order.end) ? "—" : z.stamp(order.end)}`),
      el("ol", { class: "chain" }, ...order.steps.map((s) => el("li", {},
        `${s.step}: ${s.start ? `${z.stamp(Date.parse(s.start))} – ${z.time(Date.parse(s.end))} on ${(s.resources || []).map((h) => h.resource).join(", ")}` : "not placed"}`))),
      el("div", { id: "order-causes", class: "causes" }, order.status === "on_time" ? "on time: nothing to explain" : "…"));
    if (order.status === "on_time") return;
    const causes = document.getElementById("order-causes");
    try {
      const why = await getJSON(`/api/plan/orders/${encodeURIComponent(order.id)}/causes`);
      if (chart.selected !== order.id) return;
      causes.replaceChildren(el("p", { class: "cause" }, el("strong", {}, "Why: "), why.cause || "no cause recorded"),
        why.causes.length ? el("ul", {}, ...why.causes.map((c) => el("li", { "data-kind": c.kind }, c.text))) : null,
        order.late ? el("div", { id: "order-root", class: "root" }, "root cause: …") : null);
    } catch (error) {
      causes.textContent = error.message;
      return;
    }
    if (!order.late) return;
    // down to the first event in the log, with the evidence (GET .../rootcause, cloud/rootcause.py)
    const root = document.getElementById("order-root");
    try {
      const found = await getJSON(`/api/plan/orders/${encodeURIComponent(order.id)}/rootcause`);
      if (chart.selected !== order.id || !root) return;
      root.dataset.kind = found.kind;
      root.replaceChildren(el("p", {}, el("strong", {}, "Root cause: "), found.summary),
        found.timeline.length ? el("ul", { class: "evidence" }, ...found.timeline.map((e) =>
          el("li", { title: e.position ? `log position ${e.position}` : "" }, `${z.stamp(Date.parse(e.at))} ${e.text}`))) : null);
    } catch (error) {
      if (root) root.textContent = `root cause: ${error.message}`;
    }
  }

  function orderList(plan, state) {
    const master = new Map((state.orders || []).map((o) => [o.order, o]));
    const rows = (plan.orders || []).map((o) => ({ ...(master.get(o.order) || {}), ...o }));
    const products = [...new Set(rows.map((o) => o.product).filter(Boolean))].sort();
    const customers = [...new Set(rows.map((o) => o.customer).filter(Boolean))].sort();
    const search = el("input", { id: "order-search", type: "search", placeholder: "search orders", value: filters.q });
    const late = el("input", { id: "order-late", type: "checkbox", checked: filters.late });
    const pick = (id, label, values, key) => {
      const select = el("select", { id }, el("option", { value: "" }, `every ${label}`));
      for (const v of values) select.append(el("option", { value: v, selected: v === filters[key] }, v));
      select.addEventListener("change", () => { filters[key] = select.value; fill(); });
      return select;
    };
    const body = el("tbody");
    const count = el("span", { id: "order-count" });
    const z = chart.zone;
    function fill() {
      const q = filters.q.trim().toLowerCase();
      const hits = rows.filter((o) => (!filters.late || o.status === "late") && (!filters.product || o.product === filters.product)
        && (!filters.customer || o.customer === filters.customer)
        && (!q || o.order.toLowerCase().includes(q) || (o.product || "").toLowerCase().includes(q) || (o.customer || "").toLowerCase().includes(q)));
      hits.sort((a, b) => (b.tardiness_min || 0) - (a.tardiness_min || 0) || Date.parse(a.due) - Date.parse(b.due));
      count.textContent = hits.length > LISTED ? `${hits.length} orders, the first ${LISTED} shown` : `${hits.length} orders`;
      body.replaceChildren(...hits.slice(0, LISTED).map((o) => {
        const tr = el("tr", { "data-order": o.order, class: o.status === "late" ? "late" : "" },
          el("td", {}, o.order), el("td", {}, text(o.product)), el("td", {}, text(o.customer)),
          el("td", {}, z.stamp(Date.parse(o.due))), el("td", {}, o.status === "late" ? `late ${duration(o.tardiness_min * 60000)}` : o.status.replace("_", " ")));
        tr.addEventListener("click", () => chart.show(o.order));
        return tr;
      }));
    }
    search.addEventListener("input", () => { filters.q = search.value; fill(); });
    late.addEventListener("change", () => { filters.late = late.checked; fill(); });
    fill();
    return el("div", { class: "order-list", id: "order-list" },
      el("div", { class: "filters" }, search, el("label", {}, late, " late only"), pick("order-product", "product", products, "product"),
        pick("order-customer", "customer", customers, "customer"), count),
      el("div", { class: "order-scroll" }, el("table", {}, el("thead", {}, el("tr", {}, ...["Order", "Product", "Customer", "Due", "Status"].map((h) => el("th", {}, h)))), body)));
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

  function toolbar(state, redraw) {
    const manual = state.manual.on;
    const toggle = el("button", { id: "manual-toggle", type: "button" }, manual ? "Leave manual mode" : "Enter manual mode");
    toggle.addEventListener("click", async () => { if (await act("/api/manual", { on: !manual })) redraw(); });
    const choose = el("select", { id: "span", title: "ctrl + wheel zooms, drag pans" });
    const current = ZOOMS.find(([hours]) => hours * HOUR === chart.span) ? chart.span : null;
    if (current === null) choose.append(el("option", { value: "", selected: true }, duration(chart.span)));
    for (const [hours, label] of ZOOMS) choose.append(el("option", { value: hours, selected: hours * HOUR === current }, label));
    choose.addEventListener("change", () => {
      if (!choose.value) return;
      chart.zoom(Number(choose.value) * HOUR);
      localStorage.setItem("taktline-span-ms", String(chart.span));
    });
    const move = (by, label, id) => {
      const button = el("button", { type: "button", class: "shift", id }, label);
      button.addEventListener("click", () => { if (by === 0) chart.home(); else chart.t0 += by * chart.span / 2; chart.schedule(); });
      return button;
    };
    return el("div", { class: "toolbar" },
      el("span", { class: manual ? "mode manual" : "mode", id: "mode" },
        manual ? `manual mode (${state.manual.by}): automatic replans wait` : "automatic replanning"),
      toggle, el("label", {}, "Show ", choose), move(-1, "◀", "pan-back"), move(0, "now", "pan-now"), move(1, "▶", "pan-on"),
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
    const gantt = theChart();
    const panel = document.getElementById("order-panel") || el("div", { id: "order-panel", class: "order-panel" });
    const parts = [
      el("h2", {}, `Plan — ${plan.site}`),
      null,  // the toolbar, once the chart knows its zoom
      el("p", { class: "summary" }, `${s.orders} orders: ${s.on_time} on time, ${s.early} early, ${s.late} late, ${s.unplanned} unplanned · `,
        `${report.gaps.length} gap(s) · ${state.replans} replans · order changes: policy ${state.policy} · times in ${state.timezone}`),
      el("div", { id: "plan-result" }),
      gantt.element,
      legend(),
      el("div", { class: "plan-orders" }, null, panel),
      el("h2", {}, "Order changes waiting for a decision"),
      decisionsTable(pending, redraw),
      state.manual.on ? el("h2", {}, "Move a step (manual mode; click a bar to pick it)") : null,
      state.manual.on ? moveForm(redraw) : null];
    view.replaceChildren(...parts.filter((part) => part !== null));
    gantt.setData(plan, state, report);  // in the page first: it takes the page's width
    view.insertBefore(toolbar(state, redraw), view.children[1]);
    const lists = view.querySelector(".plan-orders");
    lists.prepend(orderList(plan, state));
    // /plan?order=ID (the gap e-mail's root-cause link): that order selected on the first draw
    const asked = new URLSearchParams(location.search).get("order");
    if (asked && !linked && gantt.data.orders.has(asked)) {
      linked = true;
      gantt.select(asked);
    } else {
      showOrder(gantt.selected ? gantt.data.orders.get(gantt.selected) : null);
    }
    document.body.dataset.rendered = `plan-${state.version}`;
    document.body.dataset.planVersion = String(state.version);
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

  views.plan = serial(drawPlan);  // the Gap report page is gaps.js
})();
