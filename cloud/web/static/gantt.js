// The Plan page's Gantt chart, drawn on one canvas: a row per resource, a bar per held window.
// Only what is inside the visible window is drawn (each row's bars are sorted by start and found
// by binary search), so a 2,000-order plan pans as fast as a small one; no DOM node per bar.
// It draws the plan's bars with full labels where they fit (ellipsis otherwise, the whole label
// in the tooltip), late orders outlined red, each order's due marker on the row of its last
// step, down blocks (breakdowns, closures, holidays, leave), the gap report's shortfalls,
// material arrivals in a lane of their own, real progress (actual start to end or now, a
// running step's share done) and now (moving on between pushes). Zoom from 1 h to a week
// (select, ctrl + wheel), pan by dragging, shift + wheel or the buttons; a click on a bar
// selects its order: the chain of its steps is drawn, everything else dimmed, and the page is
// told (`onSelect`). Times are shown in the plant's time zone (`state.timezone`). Pure drawing:
// plan.js fetches the data, gantt_data.js indexes it and knows the plant's time.
"use strict";

(() => {
  const { index, zone, duration, lowerBound } = window.taktlineGanttData;
  const HOUR = 3600000;
  const MIN_SPAN = HOUR;
  const MAX_SPAN = 7 * 24 * HOUR;
  const ROW = 24;
  const AXIS = 38;
  const LABEL = 200;
  const FONT = "11px system-ui, sans-serif";
  const CHAR_PX = 6.2;
  const LATE = "#d93025";
  const DUE = "#1a56db";
  const DOWN = {
    breakdown: "#d93025", stop: "#d93025", tool_missing: "#d93025", maintenance: "#b06f00",
    unavailable: "#b06f00", closure: "#5f6368", holiday: "#5f6368", absent: "#7b1fa2", leave: "#7b1fa2",
  };
  const TICKS = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * 60000);
  //: what the legend explains, in the order shown
  const LEGEND = [
    ["bar", "planned step (colour: its order)"], ["off", "off shift / break"], ["late", "order ends late"], ["progress", "done so far"],
    ["actual", "actual start → end (or now)"], ["due", "due time"], ["due-late", "due time, missed"],
    ["breakdown", "breakdown / stop"], ["maintenance", "maintenance"], ["closure", "closure / holiday"],
    ["leave", "leave / absent"], ["gap", "capacity gap"], ["arrival", "material ready"],
    ["arrival-late", "material late"], ["now", "now"],
  ];

  function hatch(colour) {
    const tile = document.createElement("canvas");
    tile.width = tile.height = 8;
    const c = tile.getContext("2d");
    c.fillStyle = `${colour}22`;
    c.fillRect(0, 0, 8, 8);
    c.strokeStyle = `${colour}aa`;
    c.lineWidth = 2;
    c.beginPath();
    c.moveTo(-2, 10); c.lineTo(10, -2); c.moveTo(6, 10); c.lineTo(10, 6); c.moveTo(-2, 2); c.lineTo(2, -2);
    c.stroke();
    return tile;
  }

  // --- the chart ---------------------------------------------------------------------------------

  class Gantt {
    constructor(options) {
      this.onSelect = options.onSelect || (() => {});
      this.onPick = options.onPick || (() => {});
      this.span = options.span || null;  // ms; null: by the plan's size
      this.t0 = null;
      this.selected = null;
      this.data = null;
      this.pending = 0;
      this.drawn = { labels: [], due: [], down: [], arrivals: [], bars: 0 };
      this.element = document.createElement("div");
      this.element.className = "gantt";
      this.element.id = "gantt";
      this.scroller = document.createElement("div");
      this.scroller.className = "gantt-scroll";
      this.canvas = document.createElement("canvas");
      this.canvas.className = "gantt-canvas";
      this.canvas.setAttribute("role", "img");
      this.canvas.setAttribute("aria-label", "Gantt chart of the plan, a row per resource; the order list below holds the same orders");
      this.spacer = document.createElement("div");
      this.tip = document.createElement("div");
      this.tip.className = "gantt-tip";
      this.tip.hidden = true;
      this.scroller.append(this.canvas, this.spacer);
      this.element.append(this.scroller, this.tip);
      this.ctx = this.canvas.getContext("2d");
      this.patterns = new Map();
      this.listen();
      new ResizeObserver(() => this.layout()).observe(this.element);
      setInterval(() => { if (this.element.isConnected) this.schedule(); }, 30000);  // now moves on
    }

    // New data (a push, a redraw): the window, zoom and selection stay.
    setData(plan, state, report) {
      this.data = index(plan, state, report);
      this.fetched = performance.now();
      this.zone = zone(this.data.tz);
      const d = this.data;
      if (this.span === null) {
        const whole = Number.isFinite(d.first) ? Math.max(d.last, d.now) - Math.min(d.first, d.now) : HOUR;
        this.span = d.count > 3000 ? 24 * HOUR : Math.min(MAX_SPAN, Math.max(MIN_SPAN, Math.ceil(whole / HOUR + 1) * HOUR));
      }
      if (this.t0 === null) this.home();
      if (this.selected && !d.orders.has(this.selected)) this.selected = null;
      this.layout();
    }

    // The window from just before now, or from the first job when the plan starts later.
    home() {
      const d = this.data;
      let from = d.now - Math.min(this.span / 8, HOUR / 2);
      if (Number.isFinite(d.first) && d.first > from + this.span) from = d.first - HOUR / 2;
      if (Number.isFinite(d.first) && this.span >= Math.max(d.last, d.now) - Math.min(d.first, d.now)) from = Math.min(d.first, d.now) - this.span / 40;
      this.t0 = from;
    }

    zoom(span, around) {
      const at = around === undefined ? this.t0 + this.span / 2 : around;
      const share = (at - this.t0) / this.span;
      this.span = Math.min(MAX_SPAN, Math.max(MIN_SPAN, span));
      this.t0 = at - share * this.span;
      this.schedule();
    }

    panBy(dx, dy) {
      this.t0 -= dx * this.span / this.track();
      if (dy) this.scroller.scrollTop -= dy;
    }

    // Shows `order`: selects it, brings its first step into view and its row onto the screen.
    show(order) {
      const o = this.data && this.data.orders.get(order);
      if (!o) return;
      this.select(order);
      const placed = o.steps.filter((s) => s.start);
      if (placed.length) {
        const a = Date.parse(placed[0].start), b = Date.parse(placed[placed.length - 1].end);
        this.t0 = b - a < this.span * 0.8 ? a - (this.span - (b - a)) / 2 : a - this.span / 20;
        const row = this.data.byId.get(o.rows[0]);
        if (row !== undefined) this.scroller.scrollTop = Math.max(0, row * ROW - this.view() / 3);
      }
      this.schedule();
    }

    select(order) {
      this.selected = order;
      this.schedule();
      this.onSelect(order ? this.data.orders.get(order) : null);
    }

    // The server's now, moved on by the time since it was read (the line creeps between pushes).
    now() { return this.data.now + (performance.now() - this.fetched); }

    track() { return Math.max(50, this.width - LABEL); }
    view() { return this.height - AXIS; }
    x(t) { return LABEL + (t - this.t0) * this.track() / this.span; }
    t(x) { return this.t0 + (x - LABEL) * this.span / this.track(); }

    layout() {
      if (!this.data) return;
      const rows = this.data.rows.length;
      this.width = Math.max(300, this.element.clientWidth || 900);
      const want = AXIS + rows * ROW;
      this.height = Math.min(want, Math.max(240, Math.round(window.innerHeight * 0.62)));
      const ratio = window.devicePixelRatio || 1;
      this.canvas.width = Math.round(this.width * ratio);
      this.canvas.height = Math.round(this.height * ratio);
      this.canvas.style.width = `${this.width}px`;
      this.canvas.style.height = `${this.height}px`;
      this.scroller.style.height = `${this.height}px`;
      this.spacer.style.height = `${Math.max(0, want - this.height)}px`;
      this.ratio = ratio;
      this.draw();
    }

    schedule() {
      if (this.pending) return;
      this.pending = requestAnimationFrame(() => { this.pending = 0; this.draw(); });
    }

    pattern(colour) {
      if (!this.patterns.has(colour)) this.patterns.set(colour, this.ctx.createPattern(hatch(colour), "repeat"));
      return this.patterns.get(colour);
    }

    // The label that fits `room` px: the whole of it, or cut with an ellipsis (null: none fits).
    fit(text, room) {
      if (room < 14) return null;
      if (text.length * CHAR_PX <= room - 6 && this.ctx.measureText(text).width <= room - 6) return text;
      let lo = 0, hi = text.length;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (this.ctx.measureText(`${text.slice(0, mid)}…`).width <= room - 6) lo = mid; else hi = mid - 1;
      }
      return lo >= 2 ? `${text.slice(0, lo)}…` : null;
    }

    draw() {
      if (!this.data) return;
      const ctx = this.ctx, d = this.data;
      const W = this.width, H = this.height, t0 = this.t0, t1 = this.t0 + this.span;
      const drawn = { labels: [], due: [], down: [], arrivals: [], bars: 0 };
      ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
      ctx.font = FONT;
      ctx.textBaseline = "middle";
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, W, H);
      const top = this.scroller.scrollTop;
      const firstRow = Math.max(0, Math.floor(top / ROW));
      const lastRow = Math.min(d.rows.length - 1, Math.floor((top + this.view()) / ROW));
      const sel = this.selected ? d.orders.get(this.selected) : null;
      const clipX = (x) => Math.max(LABEL, Math.min(W, x));
      ctx.save();
      ctx.beginPath();
      ctx.rect(LABEL, AXIS, W - LABEL, H - AXIS);
      ctx.clip();
      this.grid(t0, t1);
      for (let i = firstRow; i <= lastRow; i += 1) {
        const row = d.rows[i];
        const y = AXIS + i * ROW - top;
        if (i % 2) { ctx.fillStyle = "#fafbfc"; ctx.fillRect(LABEL, y, W - LABEL, ROW); }
        ctx.fillStyle = "#eceef2";  // its calendar's closed hours: off shift, breaks, holidays
        for (const [a, b] of row.closed) {
          if (a >= t1) break;
          if (b > t0) ctx.fillRect(clipX(this.x(a)), y, clipX(this.x(b)) - clipX(this.x(a)), ROW);
        }
        for (const g of row.gaps) {
          if (g.end <= t0 || g.start >= t1) continue;
          const a = clipX(this.x(g.start)), b = clipX(this.x(g.end));
          ctx.fillStyle = this.pattern(LATE);
          ctx.fillRect(a, y, b - a, ROW);
          if (row.lane === "gaps") {
            const label = this.fit(`${g.group} −${g.shortfall}`, b - a);
            if (label) { ctx.fillStyle = "#a50e0e"; ctx.fillText(label, a + 3, y + ROW / 2); }
          }
        }
        for (const w of row.down) {
          if (w.end <= t0 || w.start >= t1) continue;
          const a = clipX(this.x(w.start)), b = clipX(this.x(w.end));
          const colour = DOWN[w.kind] || DOWN.stop;
          ctx.fillStyle = this.pattern(colour);
          ctx.fillRect(a, y + 1, b - a, ROW - 2);
          ctx.fillStyle = colour;
          ctx.fillRect(a, y + 1, Math.min(3, b - a), ROW - 2);
          const label = this.fit(`${w.reason || w.kind}${w.open ? " (open)" : ""}`, b - a - 4);
          if (label) ctx.fillText(label, a + 6, y + ROW / 2);
          drawn.down.push({ resource: row.id, kind: w.kind, x0: a, x1: b, y, start: w.start });
        }
        if (row.lane === "arrivals") this.arrivals(y, t0, t1, drawn);
        this.bars(row, y, t0, t1, sel, drawn);
        for (const m of row.due) {
          if (m.t < t0 || m.t > t1) continue;
          const o = d.orders.get(m.order);
          const x = Math.round(this.x(m.t)) + 0.5;
          const dim = sel && sel.id !== m.order;
          ctx.globalAlpha = dim ? 0.25 : 1;
          ctx.strokeStyle = o.late ? LATE : DUE;
          ctx.fillStyle = ctx.strokeStyle;
          ctx.lineWidth = 2;
          ctx.beginPath(); ctx.moveTo(x, y + 1); ctx.lineTo(x, y + ROW - 1); ctx.stroke();
          ctx.beginPath(); ctx.moveTo(x - 4, y + 1); ctx.lineTo(x + 4, y + 1); ctx.lineTo(x, y + 6); ctx.fill();
          ctx.globalAlpha = 1;
          drawn.due.push({ order: m.order, resource: row.id, t: m.t, x, y, late: o.late });
        }
      }
      if (sel) this.chain(sel, top, t0, t1);
      const now = this.now();
      if (now >= t0 && now <= t1) {
        ctx.fillStyle = LATE;
        ctx.fillRect(Math.round(this.x(now)) - 1, AXIS, 2, H - AXIS);
        drawn.now = this.x(now);
      }
      ctx.restore();
      this.labels(firstRow, lastRow, top);
      this.axis(t0, t1);
      this.drawn = drawn;
    }

    grid(t0, t1) {
      const ctx = this.ctx;
      const step = this.tick();
      ctx.fillStyle = "#eef0f4";
      for (let t = this.zone.floor(t0, step); t < t1; t = this.zone.next(t, step)) ctx.fillRect(Math.round(this.x(t)), AXIS, 1, this.height - AXIS);
      ctx.fillStyle = "#c9ced8";
      for (let t = this.zone.floor(t0, 24 * HOUR); t < t1; t = this.zone.next(t, 24 * HOUR)) ctx.fillRect(Math.round(this.x(t)), AXIS, 1, this.height - AXIS);
    }

    tick() {
      const perPx = this.span / this.track();
      return TICKS.find((s) => s / perPx >= 64) || TICKS[TICKS.length - 1];
    }

    bars(row, y, t0, t1, sel, drawn) {
      const ctx = this.ctx, d = this.data;
      const n = row.start.length;
      if (!n) return;
      let i = lowerBound(row.start, t0 - row.longest);
      for (; i < n && row.start[i] < t1; i += 1) {
        if (row.end[i] <= t0) continue;
        const order = row.order[i];
        const o = d.orders.get(order);
        const a = this.x(row.start[i]), b = this.x(row.end[i]);
        const x0 = Math.max(LABEL - 2, a), x1 = Math.min(this.width + 2, b);
        const w = Math.max(1.5, x1 - x0);
        const mine = sel && sel.id === order;
        ctx.globalAlpha = sel && !mine ? 0.22 : 1;
        ctx.fillStyle = `hsl(${o ? o.hue : 0},55%,${o && o.late ? 42 : 46}%)`;
        ctx.fillRect(x0, y + 3, w, ROW - 6);
        const done = d.actual.get(`${order}\u0000${row.step[i]}`);
        if (done && done.progress > 0) {  // the share done, darker, from the bar's start
          ctx.fillStyle = "rgba(0,0,0,.32)";
          ctx.fillRect(x0, y + 3, Math.min(w, Math.max(0, a + (b - a) * done.progress - x0)), ROW - 6);
        }
        if ((o && o.late) || mine) {
          ctx.strokeStyle = mine ? "#202124" : LATE;
          ctx.lineWidth = 2;
          ctx.strokeRect(x0 + 1, y + 4, Math.max(0.5, w - 2), ROW - 8);
        }
        if (w > 18) {
          const full = `${order} / ${row.step[i]}`;
          const text = this.fit(full, w);
          if (text) {
            ctx.fillStyle = "#fff";
            ctx.fillText(text, x0 + 3, y + ROW / 2);
            drawn.labels.push({ order, step: row.step[i], resource: row.id, text, full: text === full, x: x0, y });
          }
        }
        drawn.bars += 1;
      }
      ctx.globalAlpha = 1;
      for (const act of row.actual) {  // plan vs actual: a dark strip under the bar
        const end = Number.isNaN(act.end) ? this.now() : act.end;
        if (end <= t0 || act.start >= t1) continue;
        const a = Math.max(LABEL, this.x(act.start)), b = Math.min(this.width, this.x(end));
        ctx.fillStyle = "#202124";
        ctx.fillRect(a, y + ROW - 4, Math.max(2, b - a), 3);
      }
    }

    arrivals(y, t0, t1, drawn) {
      const ctx = this.ctx;
      const list = this.data.arrivals;
      let i = 0;
      while (i < list.length && list[i].t < t0) i += 1;
      for (; i < list.length && list[i].t <= t1; i += 1) {
        const a = list[i];
        const x = this.x(a.t);
        ctx.fillStyle = a.late ? LATE : "#1e8e3e";
        ctx.beginPath();
        ctx.moveTo(x, y + 4); ctx.lineTo(x + 6, y + ROW / 2); ctx.lineTo(x, y + ROW - 4); ctx.lineTo(x - 6, y + ROW / 2);
        ctx.fill();
        const label = this.fit(a.material, 110);
        if (label) { ctx.fillStyle = a.late ? "#a50e0e" : "#14632c"; ctx.fillText(label, x + 8, y + ROW / 2); }
        drawn.arrivals.push({ material: a.material, t: a.t, x, y, late: a.late });
      }
    }

    // The selected order's steps joined in routing order, and its due time across the chart.
    chain(o, top, t0, t1) {
      const ctx = this.ctx, d = this.data;
      let prev = null;
      ctx.strokeStyle = "#202124";
      ctx.lineWidth = 1.5;
      for (const s of o.steps) {
        if (!s.start || !s.resources || !s.resources.length) continue;
        const row = d.byId.get(s.resources[0].resource);
        if (row === undefined) continue;
        const y = AXIS + row * ROW - top + ROW / 2;
        if (prev) {
          ctx.beginPath();
          ctx.moveTo(this.x(prev.end), prev.y);
          ctx.lineTo(this.x(prev.end) + 6, prev.y);
          ctx.lineTo(this.x(Date.parse(s.start)) - 6, y);
          ctx.lineTo(this.x(Date.parse(s.start)), y);
          ctx.stroke();
        }
        prev = { end: Date.parse(s.end), y };
      }
      if (o.due >= t0 && o.due <= t1) {
        ctx.setLineDash([5, 4]);
        ctx.strokeStyle = o.late ? LATE : DUE;
        const x = Math.round(this.x(o.due)) + 0.5;
        ctx.beginPath(); ctx.moveTo(x, AXIS); ctx.lineTo(x, this.height); ctx.stroke();
        ctx.setLineDash([]);
      }
    }

    labels(firstRow, lastRow, top) {
      const ctx = this.ctx, d = this.data;
      ctx.fillStyle = "#f6f7f9";
      ctx.fillRect(0, AXIS, LABEL, this.height - AXIS);
      ctx.save();
      ctx.beginPath(); ctx.rect(0, AXIS, LABEL, this.height - AXIS); ctx.clip();
      const sel = this.selected ? d.orders.get(this.selected) : null;
      for (let i = firstRow; i <= lastRow; i += 1) {
        const row = d.rows[i];
        const y = AXIS + i * ROW - top;
        if (sel && sel.rows.includes(row.id)) { ctx.fillStyle = "#fde9a9"; ctx.fillRect(0, y, LABEL, ROW); }
        ctx.fillStyle = row.lane ? "#a50e0e" : "#202124";
        ctx.font = row.lane ? `600 ${FONT}` : FONT;
        const kind = row.kind ? ` ${row.kind}` : "";
        const name = this.fit(row.label, LABEL - 8 - kind.length * 5.5) || "";
        ctx.fillText(name, 6, y + ROW / 2);
        if (kind) { ctx.fillStyle = "#8a93a3"; ctx.fillText(kind, 6 + ctx.measureText(name).width, y + ROW / 2); }
        ctx.fillStyle = "#eef0f4";
        ctx.fillRect(0, y + ROW - 1, this.width, 1);
      }
      ctx.restore();
      ctx.font = FONT;
      ctx.fillStyle = "#c9ced8";
      ctx.fillRect(LABEL - 1, AXIS, 1, this.height - AXIS);
    }

    axis(t0, t1) {
      const ctx = this.ctx, z = this.zone;
      ctx.fillStyle = "#eef0f4";
      ctx.fillRect(0, 0, this.width, AXIS);
      ctx.fillStyle = "#5b6475";
      ctx.fillText(`times: ${z.tz}`, 6, AXIS / 2);
      ctx.save();
      ctx.beginPath(); ctx.rect(LABEL, 0, this.width - LABEL, AXIS); ctx.clip();
      const step = this.tick();
      for (let t = z.floor(t0, 24 * HOUR); t < t1; t = this.zone.next(t, 24 * HOUR)) {
        const x = this.x(t);
        ctx.fillStyle = "#c9ced8"; ctx.fillRect(Math.round(x), 0, 1, AXIS);
        ctx.fillStyle = "#202124"; ctx.fillText(z.day(t), Math.max(LABEL, x) + 4, 10);
      }
      if (step < 24 * HOUR) {
        for (let t = z.floor(t0, step); t < t1; t = this.zone.next(t, step)) {
          const x = this.x(t);
          if (x < LABEL) continue;  // its label would be cut by the row labels
          ctx.fillStyle = "#c9ced8"; ctx.fillRect(Math.round(x), AXIS - 14, 1, 14);
          ctx.fillStyle = "#5b6475"; ctx.fillText(z.time(t), x + 3, AXIS - 8);
        }
      }
      ctx.restore();
      ctx.fillStyle = "#c9ced8";
      ctx.fillRect(0, AXIS - 1, this.width, 1);
    }

    // --- what is under the pointer ----------------------------------------------------------

    hit(px, py) {
      const d = this.data;
      if (!d || py < AXIS) return null;
      const i = Math.floor((py - AXIS + this.scroller.scrollTop) / ROW);
      const row = d.rows[i];
      if (!row) return null;
      if (px < LABEL) return { kind: "row", row };
      const t = this.t(px), slack = 4 * this.span / this.track();
      if (row.lane === "arrivals") {
        const a = d.arrivals.find((x) => Math.abs(x.t - t) <= 2 * slack);
        if (a) return { kind: "arrival", row, arrival: a };
      }
      for (const m of row.due) if (Math.abs(m.t - t) <= slack) return { kind: "due", row, order: d.orders.get(m.order) };
      let j = lowerBound(row.start, t - row.longest);
      for (; j < row.start.length && row.start[j] <= t; j += 1) {
        if (row.end[j] > t) return { kind: "bar", row, order: d.orders.get(row.order[j]), step: row.step[j], start: row.start[j], end: row.end[j] };
      }
      for (const w of row.down) if (w.start <= t && t < w.end) return { kind: "down", row, down: w };
      for (const g of row.gaps) if (g.start <= t && t < g.end) return { kind: "gap", row, gap: g };
      return null;
    }

    describe(h) {
      const z = this.zone;
      if (h.kind === "row") return h.row.title;
      if (h.kind === "bar") {
        const o = h.order;
        const done = this.data.actual.get(`${o.id}\u0000${h.step}`);
        const lines = [`${o.id} / ${h.step} on ${h.row.label}`, `${z.stamp(h.start)} – ${z.time(h.end)} (${duration(h.end - h.start)})`,
          `${o.product}${o.customer ? ` for ${o.customer}` : ""} · due ${z.stamp(o.due)}`];
        if (o.late) lines.push(`late by ${duration(o.tardiness * 60000)}${o.cause ? `: ${o.cause}` : ""}`);
        if (done) lines.push(Number.isNaN(done.end) ? `running since ${z.time(done.start)}, ${Math.round(done.progress * 100)} % of its standard time` : `done ${z.stamp(done.end)}`);
        return lines.join("\n");
      }
      if (h.kind === "due") return `${h.order.id} due ${z.stamp(h.order.due)}${h.order.late ? ` — ends late by ${duration(h.order.tardiness * 60000)}` : ""}`;
      if (h.kind === "down") return `${h.down.reason || h.down.kind} on ${h.row.label}: ${z.stamp(h.down.start)} – ${h.down.open ? "until further notice" : z.stamp(h.down.end)}`;
      if (h.kind === "gap") return `gap in ${h.gap.group}: short ${h.gap.shortfall}, ${z.stamp(h.gap.start)} – ${z.stamp(h.gap.end)}`;
      const a = h.arrival;
      return `${a.material} ready ${z.stamp(a.t)}${a.late ? " — late" : ""}${a.delivery ? ` (delivery ${a.delivery})` : ""}${a.order ? ` for ${a.order}/${a.step}` : ""}`;
    }

    listen() {
      const c = this.canvas;
      let drag = null;
      const local = (e) => { const r = c.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
      c.addEventListener("pointerdown", (e) => {
        if (e.button !== 0) return;
        drag = { x: e.clientX, y: e.clientY, moved: false };
        c.setPointerCapture(e.pointerId);
      });
      c.addEventListener("pointermove", (e) => {
        if (drag && e.buttons & 1) {
          const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
          if (drag.moved || Math.abs(dx) + Math.abs(dy) > 3) {
            drag.moved = true;
            this.panBy(dx, dy);
            drag.x = e.clientX; drag.y = e.clientY;
            this.tip.hidden = true;
            c.classList.add("panning");
            this.schedule();
          }
          return;
        }
        const [px, py] = local(e);
        const h = this.hit(px, py);
        if (!h) { this.tip.hidden = true; return; }
        this.tip.textContent = this.describe(h);
        this.tip.hidden = false;
        // fixed, so that a chart of two rows does not cut it off
        this.tip.style.left = `${Math.min(e.clientX + 14, window.innerWidth - 270)}px`;
        this.tip.style.top = `${Math.min(e.clientY + 16, window.innerHeight - 90)}px`;
      });
      c.addEventListener("pointerleave", () => { this.tip.hidden = true; });
      c.addEventListener("pointerup", (e) => {
        c.classList.remove("panning");
        const click = drag && !drag.moved;
        drag = null;
        if (!click) return;
        const h = this.hit(...local(e));
        if (h && h.kind === "bar") {
          this.select(h.order.id);
          this.onPick({ order: h.order.id, step: h.step, start: new Date(h.start).toISOString() });
        } else if (h && h.kind === "due") this.select(h.order.id);
        else if (!h || h.kind !== "row") this.select(null);
      });
      c.addEventListener("wheel", (e) => {
        if (e.ctrlKey || e.metaKey) {
          e.preventDefault();
          this.zoom(this.span * Math.exp(e.deltaY * 0.002), this.t(local(e)[0]));
        } else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
          e.preventDefault();
          this.panBy(-(e.shiftKey ? e.deltaY : e.deltaX), 0);
          this.schedule();
        }
      }, { passive: false });
      this.scroller.addEventListener("scroll", () => this.schedule());
    }

    // What the last frame drew and the plan holds (the tests and the benchmark read it).
    info() {
      const d = this.data;
      const bars = {};
      for (const row of d.rows) if (!row.lane) bars[row.id] = row.start.length;
      return {
        t0: this.t0, t1: this.t0 + this.span, span: this.span, selected: this.selected, bars,
        gaps: d.rows[1].gaps.length, shaded: Object.fromEntries(d.rows.filter((r) => r.gaps.length && !r.lane).map((r) => [r.id, r.gaps.length])),
        gaps_lane: d.rows[1].gaps.map((g) => `${g.group} −${g.shortfall}`),
        drawn: this.drawn, label: LABEL, axis: AXIS, row: ROW, width: this.width, height: this.height, timezone: d.tz,
      };
    }
  }

  function legend() {
    const box = document.createElement("div");
    box.className = "gantt-legend";
    box.id = "gantt-legend";
    for (const [key, text] of LEGEND) {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.className = `swatch ${key}`;
      item.append(swatch, text);
      box.append(item);
    }
    return box;
  }

  window.taktlineGantt = { Gantt, legend, duration, zone, HOUR, MIN_SPAN, MAX_SPAN, current: null };
})();
