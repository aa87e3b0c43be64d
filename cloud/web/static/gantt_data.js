// The Gantt's data (gantt.js draws it): the plan, the plan state and the gap report indexed for
// drawing — rows with their bars as typed arrays sorted by start, down windows, gap shading,
// progress and due markers, the orders with their steps — and time in the plant's zone (ticks
// at local multiples across daylight-saving changes, labels, human durations). No DOM, no
// drawing: it runs under Node.js too.
"use strict";

(() => {
  const HOUR = 3600000;
  const KINDS = ["machine", "operator", "tool"];

  function hue(order) {
    let h = 0;
    for (let i = 0; i < order.length; i += 1) h = (h * 31 + order.charCodeAt(i)) >>> 0;
    return Math.round((h * 137.508) % 360);
  }

  // First index whose value is >= x in a sorted Float64Array.
  function lowerBound(values, x) {
    let lo = 0, hi = values.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (values[mid] < x) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  // --- the data, indexed for drawing ------------------------------------------------------------

  // Rows (lanes first, then resources by kind), per row its bars sorted by start as typed
  // arrays, its down windows, gap shading, progress and due markers; per order its steps.
  function index(plan, state, report) {
    const now = Date.parse(state.now);
    const orders = new Map();
    const master = new Map((state.orders || []).map((o) => [o.order, o]));
    for (const o of plan.orders || []) {
      const m = master.get(o.order) || {};
      orders.set(o.order, {
        id: o.order, status: o.status, due: Date.parse(o.due), end: o.end ? Date.parse(o.end) : NaN,
        late: o.status === "late", tardiness: o.tardiness_min, earliness: o.earliness_min,
        cause: o.cause || null, product: m.product || "", customer: m.customer || "",
        quantity: m.quantity, hue: hue(o.order), steps: o.steps || [], rows: [],
      });
    }
    const resources = state.resources.slice().sort((a, b) => {
      const ka = KINDS.indexOf(a.kind), kb = KINDS.indexOf(b.kind);
      return (ka < 0 ? 9 : ka) - (kb < 0 ? 9 : kb);
    });
    const known = new Set(resources.map((r) => r.id));
    for (const id of Object.keys(plan.resources || {})) if (!known.has(id)) resources.push({ id, kind: "", name: "" });
    const rows = [
      { id: "arrivals", lane: "arrivals", label: "materials", title: "materials ready at the line", closed: [] },
      { id: "gaps", lane: "gaps", label: "gaps", title: "the gap report's shortfalls", closed: [] },
    ];
    const closed = {};  // per calendar its closed hours as [start, end] ms, in time order
    for (const [cid, windows] of Object.entries(state.calendars || {})) closed[cid] = windows.map((w) => [Date.parse(w.start), Date.parse(w.end)]);
    for (const r of resources) rows.push({ id: r.id, kind: r.kind, label: r.name || r.id, title: `${r.name ? `${r.name} — ` : ""}${r.id} (${r.kind || "resource"})`, closed: closed[r.calendar] || [] });
    const byId = new Map(rows.map((row, i) => [row.id, i]));
    let first = Infinity, last = -Infinity, count = 0;
    for (const row of rows) {
      const jobs = (plan.resources || {})[row.id] || [];
      // sorted by start here, whatever the order sent: the drawing finds them by binary search
      const placed = jobs.filter((j) => j.start && j.end).sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
      row.start = new Float64Array(placed.length);
      row.end = new Float64Array(placed.length);
      row.order = new Array(placed.length);
      row.step = new Array(placed.length);
      row.longest = 0;
      placed.forEach((j, i) => {
        row.start[i] = Date.parse(j.start);
        row.end[i] = Date.parse(j.end);
        row.order[i] = j.order;
        row.step[i] = j.step;
        row.longest = Math.max(row.longest, row.end[i] - row.start[i]);
        first = Math.min(first, row.start[i]);
        last = Math.max(last, row.end[i]);
        const o = orders.get(j.order);
        if (o && !o.rows.includes(row.id)) o.rows.push(row.id);
      });
      count += placed.length;
      row.down = [];
      row.gaps = [];
      row.actual = [];
      row.due = [];
    }
    const horizon = Math.max(last, now) + 14 * 24 * HOUR;
    for (const w of state.down || []) {
      const i = byId.get(w.resource);
      if (i === undefined) continue;
      rows[i].down.push({ start: Date.parse(w.start), end: w.end ? Date.parse(w.end) : horizon, kind: w.kind, reason: w.reason, open: !w.end });
    }
    const gaps = (report && report.gaps) || [];
    rows[1].gaps = gaps.map((g) => ({ start: Date.parse(g.start), end: Date.parse(g.end), group: g.group, shortfall: g.shortfall }));
    for (const g of rows[1].gaps) {
      for (const group of g.group.split("+")) {
        for (const member of (state.groups || {})[group] || []) {
          const i = byId.get(member);
          if (i !== undefined) rows[i].gaps.push(g);
        }
      }
    }
    const actual = new Map();
    for (const a of state.actual || []) {
      const item = { order: a.order, step: a.step, start: a.start ? Date.parse(a.start) : NaN, end: a.end ? Date.parse(a.end) : NaN, progress: a.progress };
      actual.set(`${a.order}\u0000${a.step}`, item);
      for (const r of a.resources || []) {
        const i = byId.get(r);
        if (i !== undefined && !Number.isNaN(item.start)) rows[i].actual.push(item);
      }
    }
    // an order's due marker sits on the rows of its last placed step
    for (const o of orders.values()) {
      const placed = o.steps.filter((s) => s.start);
      const lastStep = placed[placed.length - 1];
      if (!lastStep || Number.isNaN(o.due)) continue;
      for (const h of lastStep.resources || []) {
        const i = byId.get(h.resource);
        if (i !== undefined) rows[i].due.push({ t: o.due, order: o.id });
      }
    }
    for (const row of rows) row.due.sort((a, b) => a.t - b.t);
    const arrivals = (state.arrivals || []).map((a) => ({ ...a, t: Date.parse(a.ready) })).sort((a, b) => a.t - b.t);
    return { rows, byId, orders, actual, arrivals, now, first, last, count, tz: state.timezone || "UTC" };
  }

  // --- time in the plant's zone ----------------------------------------------------------------

  function zone(tz) {
    const parts = new Intl.DateTimeFormat("en-GB", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", weekday: "short",
    });
    const offsets = new Map();
    const offset = (t) => {  // minutes east of UTC at t (cached per quarter hour)
      const key = Math.floor(t / 900000);
      if (!offsets.has(key)) {
        const p = Object.fromEntries(parts.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
        const local = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute);
        offsets.set(key, Math.round((local - Math.floor(t / 60000) * 60000) / 60000));
      }
      return offsets.get(key);
    };
    const fields = (t) => {
      const d = new Date(t + offset(t) * 60000);
      return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), wd: d.getUTCDay() };
    };
    // a local wall time (as if UTC) back to UTC, with the offset in force then (near t)
    const toLocal = (wall, near) => { const guess = wall - offset(near) * 60000; return wall - offset(guess) * 60000; };
    const pad = (n) => String(n).padStart(2, "0");
    const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    return {
      tz, offset, fields,
      time: (t) => { const f = fields(t); return `${pad(f.h)}:${pad(f.mi)}`; },
      day: (t) => { const f = fields(t); return `${DAYS[f.wd]} ${f.d}.${f.mo}.`; },
      stamp: (t) => { const f = fields(t); return `${DAYS[f.wd]} ${f.d}.${f.mo}. ${pad(f.h)}:${pad(f.mi)}`; },
      // the latest local multiple of `step` at or before t; the next one after t (a day of 23
      // or 25 hours still ends at midnight): the offset is the one in force at the result
      floor: (t, step) => toLocal(Math.floor((t + offset(t) * 60000) / step) * step, t),
      next: (t, step) => { const u = t + step * 1.5; return toLocal(Math.floor((u + offset(u) * 60000) / step) * step, u); },
    };
  }

  function duration(ms) {
    const m = Math.round(Math.abs(ms) / 60000);
    if (m < 60) return `${m} min`;
    if (m < 48 * 60) return `${Math.floor(m / 60)} h ${m % 60 ? `${m % 60} min` : ""}`.trim();
    return `${Math.round(m / 1440 * 10) / 10} days`;
  }

  window.taktlineGanttData = { index, zone, duration, hue, lowerBound };
})();
