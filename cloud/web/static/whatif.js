// The What-if page (planners): scenarios built from pick lists, planned beside the live plan
// (POST /api/whatif) and compared side by side; a scenario of order changes can be promoted to
// the live plan (POST /api/whatif/promote, recorded with who and when). The early warnings
// (GET /api/warnings) stand above, each with "try maintenance now" as a ready scenario.
// Pick lists come from /api/plan/state (resources), /api/plan (orders, products) and the plant
// model (/api/master: suppliers, materials); see docs/whatif.md. Loaded after app.js.
"use strict";

(() => {
  const { el, table, views } = window.taktline;

  // kind -> [label, fields]; a field is [name, label, type, list] (list: the state's pick list)
  const KINDS = {
    machine_down: ["a machine down", [["resource", "machine", "select", "machines"], ["hours", "hours", "number"]]],
    operator_absent: ["an operator absent", [["operator", "operator", "select", "operators"], ["hours", "hours", "number"]]],
    supplier_delayed: ["a supplier late", [["supplier", "supplier", "select", "suppliers"], ["hours", "hours", "number"]]],
    material_delayed: ["a material late", [["material", "material", "select", "materials"], ["hours", "hours", "number"]]],
    due_date: ["an order's due date", [["order", "order", "select", "orders"], ["due", "new due date (plant time)", "datetime-local"]]],
    quantity: ["an order's quantity", [["order", "order", "select", "orders"], ["quantity", "quantity", "number"]]],
    rush_order: ["a rush order", [["order", "order id", "text"], ["product", "product", "select", "products"],
      ["quantity", "quantity", "number"], ["due", "due (plant time)", "datetime-local"]]],
    cancel_order: ["an order cancelled", [["order", "order", "select", "orders"]]],
    split_order: ["an order split", [["order", "order", "select", "orders"], ["lots", "lots", "number"]]],
  };
  const ORDER_KINDS = new Set(["due_date", "quantity", "rush_order", "cancel_order", "split_order"]);
  const FIGURES = [["on time %", "on_time_pct"], ["late", "late"], ["tardy min", "tardiness_min"],
    ["early min", "earliness_min"], ["E/T cost", "weighted_cost"], ["WIP", "wip"], ["utilisation %", "utilisation"], ["gaps", "gaps"]];
  let lists = null;
  let scenarios = [];
  let last = null;

  async function getJSON(url) {
    const answer = await fetch(url);
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) throw new Error(body.detail || `${url}: ${answer.status}`);
    return body;
  }

  async function postJSON(url, body) {
    const answer = await fetch(url, { method: "POST", headers: await window.taktlineAuth.headers(), body: JSON.stringify(body) });
    const out = await answer.json().catch(() => ({}));
    if (!answer.ok) throw new Error(out.detail || `${url}: ${answer.status}`);
    return out;
  }

  // The plant's time zone offset at a local time, so that a datetime-local value means plant time.
  function plantTime(local, zone) {
    const guess = new Date(`${local}:00Z`);
    const shown = new Intl.DateTimeFormat("en-CA", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(guess).replace(", ", "T");
    const offset = Date.parse(`${shown}:00Z`) - guess.getTime();
    return new Date(guess.getTime() - offset).toISOString();
  }

  async function loadLists() {
    const [state, plan, master] = await Promise.all([getJSON("/api/plan/state"), getJSON("/api/plan"),
      getJSON("/api/master").catch(() => ({}))]);
    const resources = state.resources || [];
    const names = new Map(resources.map((r) => [r.id, r.name || r.id]));
    lists = {
      zone: state.timezone || "UTC",
      machines: resources.filter((r) => r.kind === "machine").map((r) => [r.id, names.get(r.id)]),
      operators: resources.filter((r) => r.kind === "operator").map((r) => [r.id, names.get(r.id)]),
      orders: (plan.orders || []).map((o) => [o.order, `${o.order} (${o.product || ""})`]),
      products: [...new Set((plan.orders || []).map((o) => o.product).filter(Boolean))].map((p) => [p, p]),
      suppliers: (master.suppliers || []).map((s) => [s.id, s.name || s.id]),
      materials: (master.materials || []).map((m) => [m.id, m.id]),
    };
  }

  function fieldInput([name, label, type, list]) {
    if (type === "select") {
      const options = (lists[list] || []).map(([value, text]) => el("option", { value }, text));
      return el("label", {}, `${label} `, el("select", { name }, ...options));
    }
    const input = el("input", { name, type, required: true });
    if (type === "number") input.step = "any";
    return el("label", {}, `${label} `, input);
  }

  function changeForm() {
    const kind = el("select", { name: "kind" }, ...Object.entries(KINDS).map(([k, [label]]) => el("option", { value: k }, label)));
    const fields = el("span", { class: "fields" });
    const fill = () => fields.replaceChildren(...KINDS[kind.value][1].map(fieldInput));
    kind.addEventListener("change", fill);
    fill();
    const name = el("input", { name: "scenario", placeholder: "scenario name" });
    const add = el("button", { type: "submit" }, "Add as a scenario");
    const form = el("form", { id: "whatif-form", class: "whatif" }, name, " ", kind, " ", fields, " ", add);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const change = { kind: kind.value };
      for (const [field, , type] of KINDS[kind.value][1]) {
        const value = form.elements[field].value;
        change[field] = type === "number" ? Number(value) : type === "datetime-local" ? plantTime(value, lists.zone) : value;
      }
      const label = name.value || `${KINDS[kind.value][0]}`;
      const same = scenarios.find((s) => s.name === label);
      if (same) same.changes.push(change); else scenarios.push({ name: label, changes: [change] });
      draw(document.getElementById("view"));
    });
    return form;
  }

  function results(view) {
    if (!last) return el("p", { class: "empty" }, scenarios.length ? "Run them to see the figures." : "Add a scenario to compare it with the plan.");
    const base = last.scenarios[0].kpis;
    const head = ["Figure", ...last.scenarios.map((s) => s.name)];
    const rows = FIGURES.map(([label, key]) => [label, ...last.scenarios.map((s, n) => {
      const value = key === "utilisation" ? Math.round(1000 * s.kpis[key]) / 10 : s.kpis[key];
      if (n === 0) return String(value);
      const delta = key === "utilisation" ? value - Math.round(1000 * base[key]) / 10 : value - base[key];
      return `${value} (${delta >= 0 ? "+" : ""}${Math.round(delta * 100) / 100})`;
    })]);
    const out = [el("h3", {}, "Side by side"), table(head, rows, "")];
    out[1].id = "whatif-table";
    for (const s of last.scenarios.slice(1)) {
      const own = scenarios.find((x) => x.name === s.name);
      const promotable = own && own.changes.every((c) => ORDER_KINDS.has(c.kind) || c.kind === "machine_down");
      const late = s.late_orders.map((o) => el("li", {}, `${o.order}: ${o.cause || o.status}`));
      const button = el("button", { type: "button", disabled: !promotable }, "Promote to the live plan");
      button.title = promotable ? "apply its order changes and planned maintenance as your decision (recorded)"
        : "only order changes and planned maintenance can be promoted; absences, late suppliers and closures are not a planner's";
      button.addEventListener("click", async () => {
        try {
          const done = await postJSON("/api/whatif/promote", { scenario: own });
          const kept = done.maintenance.map((m) => `${m.resource} ${m.minutes} min`).join(", ");
          say(view, `promoted "${s.name}" by ${done.by}: changed ${done.changed.join(", ") || "—"}, created ${done.created.join(", ") || "—"}, cancelled ${done.cancelled.join(", ") || "—"}, maintenance ${kept || "—"}`);
        } catch (error) { say(view, error.message, true); }
      });
      out.push(el("div", { class: "scenario-result" }, el("h4", {}, s.name), late.length ? el("ul", {}, ...late) : el("p", {}, "no order late"), button));
    }
    return el("section", { id: "whatif-results" }, ...out);
  }

  function say(view, message, bad) {
    const box = view.querySelector("#whatif-say");
    if (box) { box.textContent = message; box.className = bad ? "flag" : "ok"; }
  }

  async function warnings() {
    let found;
    try { found = await getJSON("/api/warnings"); } catch { return null; }
    if (!found.alerts.length) return el("p", { class: "empty", id: "warnings" }, "No early warning stands.");
    return el("section", { id: "warnings" }, el("h3", {}, "Early warnings"),
      el("ul", {}, ...found.alerts.map((a) => {
        const add = el("button", { type: "button" }, "Try maintenance now");
        add.addEventListener("click", () => { scenarios.push(a.scenario); draw(document.getElementById("view")); });
        return el("li", {}, `${a.station}: ${a.detail}${a.crossing_at ? `; threshold projected for ${new Date(a.crossing_at).toLocaleString()}` : ""} `, add);
      })));
  }

  async function draw(view) {
    try {
      if (!lists) await loadLists();
    } catch (error) {
      view.replaceChildren(el("h2", {}, "What-if"), el("p", { class: "flag" }, error.message));
      return;
    }
    const run = el("button", { type: "button", id: "whatif-run", disabled: !scenarios.length }, "Run the scenarios");
    run.addEventListener("click", async () => {
      try {
        last = await postJSON("/api/whatif", { scenarios });
        draw(view);
      } catch (error) { say(view, error.message, true); }
    });
    const clear = el("button", { type: "button" }, "Clear");
    clear.addEventListener("click", () => { scenarios = []; last = null; draw(view); });
    const listed = scenarios.map((s) => [s.name, s.changes.map((c) => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(", ")).join("; ")]);
    view.replaceChildren(
      el("h2", {}, "What-if"),
      el("p", {}, "Each scenario is planned on a copy of the live plan as the replanner would plan it; nothing changes on the line until a planner promotes a scenario of order changes."),
      (await warnings()) || el("span"),
      changeForm(),
      table(["Scenario", "Changes"], listed, "no scenario yet"),
      el("p", {}, run, " ", clear, " ", el("span", { id: "whatif-say" })),
      results(view));
    document.body.dataset.rendered = `whatif-${scenarios.length}-${last ? last.scenarios.length : 0}`;
  }

  views.whatif = { draw: (view, event) => (event ? null : draw(view)) };
})();
