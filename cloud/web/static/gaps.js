// The Gap report page: GET /api/gaps/view (cloud/replan/gap_view.py) drawn as a group × time heat
// strip (darker: more short), the gaps with their units and plant-local times, every late order
// with its cause (how late it ends: one figure), the early and unplanned orders, and whom the plan
// relies on who is not here. Loaded after plan.js, whose own Gap report drawing this replaces;
// drawn on load and on every pushed plan event, one drawing at a time (the newest data wins).
"use strict";

(() => {
  const { el, table, views } = window.taktline;
  let drawing = Promise.resolve();

  function heat(level, max) {
    if (!level) return "#ffffff";
    const share = max > 1 ? (level - 1) / (max - 1) : 1;
    return `hsl(8, 75%, ${Math.round(82 - share * 40)}%)`;
  }

  function plural(n, unit) { return `${n} ${unit}${n === 1 ? "" : "s"}`; }

  function strip(s) {
    if (!s.rows.length) return el("p", { class: "empty" }, "no resource group is short");
    const columns = s.ticks.length;
    const grid = el("div", { id: "heat-strip" });
    grid.style.gridTemplateColumns = `max-content repeat(${columns}, minmax(1.4rem, 1fr))`;
    const every = Math.max(1, Math.ceil(columns / 12));  // at most ~12 labels, the others in tooltips
    grid.append(el("div", { class: "corner" }, `${s.bucket_min >= 60 ? `${s.bucket_min / 60} h` : `${s.bucket_min} min`} per column`));
    s.ticks.forEach((t, i) => grid.append(el("div", { class: "tick", title: t.label }, i % every === 0 ? t.label : "")));
    for (const row of s.rows) {
      grid.append(el("div", { class: "group", "data-group": row.group }, `${row.group} (${row.unit}s)`));
      row.cells.forEach((level, i) => {
        const to = i + 1 < columns ? s.ticks[i + 1].label : "";
        const cell = el("div", { class: "cell", title: level ? `${row.group}: short ${plural(level, row.unit)} from ${s.ticks[i].label}${to ? ` to ${to}` : ""}` : `${row.group}: enough from ${s.ticks[i].label}` });
        cell.dataset.short = String(level);
        cell.style.background = heat(level, s.max);
        grid.append(cell);
      });
    }
    const legend = el("div", { class: "heat-legend" }, "short at worst:");
    for (let n = 1; n <= s.max; n += 1) {
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = heat(n, s.max);
      legend.append(el("span", {}, swatch, String(n)));
    }
    return el("div", {}, grid, legend);
  }

  function lateTable(late) {
    const body = el("tbody");
    if (!late.length) body.append(el("tr", {}, el("td", { class: "empty", colSpan: 4 }, "no order ends late")));
    for (const o of late) {
      const chain = o.causes.length > 1
        ? el("details", {}, el("summary", {}, `the whole chain (${o.causes.length} links)`), el("ol", {}, ...o.causes.map((c) => el("li", {}, c))))
        : null;
      body.append(el("tr", { "data-order": o.order },
        el("td", {}, o.order),
        el("td", {}, `${o.tardiness_min} min`),
        el("td", {}, o.cause || "no cause found in the plan", chain),
        el("td", {}, o.gaps.join(", ") || "none (the cause is not a capacity gap)")));
    }
    return el("table", { id: "late-orders" },
      el("thead", {}, el("tr", {}, ...["Order", "Ends late by", "Why", "In gap(s)"].map((h) => el("th", {}, h)))), body);
  }

  function gapNote(g) {
    const notes = [];
    if (g.absent && g.absent.length) notes.push(`${g.none_present ? "no qualified operator present" : "absent"}: ${g.absent.join(", ")}`);
    for (const t of g.tools || []) notes.push(`tool ${t.tool}: ${t.out ? t.out.replace("tool_", "") : "planned"}${t.life ? ` (tool life ${t.life})` : ""}`);
    return notes.join("; ");
  }

  async function draw(view) {
    let v;
    try {
      const response = await fetch("/api/gaps/view");
      if (!response.ok) throw new Error((await response.json()).detail || `HTTP ${response.status}`);
      v = await response.json();
    } catch (error) {
      view.replaceChildren(el("h2", {}, "Gap report"), el("p", { class: "empty" }, error.message));
      return;
    }
    const s = v.summary;
    const said = [s.gaps ? plural(s.gaps, "gap") : "no resource is short",
      s.late ? `${plural(s.late, "order")} late (${s.tardiness_min} min in all)` : "no order late",
      s.early ? `${s.early} early` : null, s.unplanned ? `${s.unplanned} not planned` : null,
      s.relied_on ? `${plural(s.relied_on, "operator")} relied on but not here` : null].filter((x) => x);
    const gapTable = table(["Resource group", "Short", "From", "To", "Length", "Orders made late", "Orders made early", "Note"],
      v.gaps.map((g) => [g.group, g.short, g.from_local, g.to_local, `${g.minutes} min`,
        g.late.join(", ") || "—", g.early.join(", ") || "—", gapNote(g) || "—"]), "no gaps");
    gapTable.id = "gap-table";
    const off = (rows, figure) => table(["Order", figure === "early" ? "Ends early by" : "Status", "Why"],
      rows.map((o) => [o.order, figure === "early" ? `${o.earliness_min} min` : "not planned", o.cause || "—"]), "none");
    const relied = v.relied_on.length
      ? table(["Operator", "Presence", "Planned jobs", "Next job"], v.relied_on.map((r) => [r.name, r.presence, r.planned_jobs, r.next_job]), "")
      : el("p", { class: "empty" }, "everyone the plan relies on is here");
    relied.id = "relied-on";
    const root = el("div", { id: "gap-report" },
      el("h2", {}, "Gap report"),
      el("p", { class: "summary" }, said.join(" · ")),
      el("p", { class: "empty" }, `times in the plant's zone, ${v.timezone}`),
      el("h2", {}, "Where and when resources are short"), strip(v.strip),
      el("h2", {}, "Late orders and why"), lateTable(v.late),
      el("h2", {}, "Relied on but not here"), relied,
      el("h2", {}, "Gaps and the orders they make late or early"), gapTable,
      el("h2", {}, "Early orders"), off(v.early, "early"),
      v.unplanned.length ? el("h2", {}, "Not planned") : null, v.unplanned.length ? off(v.unplanned, "unplanned") : null);
    root.dataset.ready = "true";
    view.replaceChildren(root);
    document.body.dataset.rendered = `gaps-${s.gaps}-${s.late}`;
  }

  views.gaps = { draw: (view) => { drawing = drawing.then(() => draw(view)).catch(() => {}); return drawing; } };
})();
