// Times, durations and numbers for people, on the plant's clock: window.taktlineTime.
// The API writes ISO 8601 times (UTC "Z" or with the plant's offset); the pages show them in the
// plant model's time zone (the page's <meta name="taktline-timezone">, put there by the server
// from the master data), 24-hour, to the minute, with the date only when it is not today there.
// The same rules as taktline/humane.py, so a page and the API's texts say the same.
"use strict";

(function () {
  const meta = document.querySelector('meta[name="taktline-timezone"]');
  let zone = (meta && meta.content) || "UTC";
  try { new Intl.DateTimeFormat("en-GB", { timeZone: zone }); } catch (err) { zone = "UTC"; }

  const parts = (date, options) => {
    const out = {};
    for (const p of new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23", ...options }).formatToParts(date)) out[p.type] = p.value;
    return out;
  };

  function parse(value) {
    if (value === null || value === undefined || value === "") return null;
    const date = value instanceof Date ? value : new Date(value);
    return Number.isNaN(date.getTime()) ? null : date;
  }

  function day(date) {
    const p = parts(date, { year: "numeric", month: "2-digit", day: "2-digit" });
    return `${p.year}-${p.month}-${p.day}`;
  }

  function label(date) {
    return parts(date, { timeZoneName: "short" }).timeZoneName || zone;
  }

  // "07:36", or "2026-03-22 07:36" when not today on the plant's clock (seconds: "07:36:05").
  function format(value, options) {
    const date = parse(value);
    if (date === null) return "—";
    const opts = options || {};
    const p = parts(date, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    const clock = opts.seconds ? `${p.hour}:${p.minute}:${p.second}` : `${p.hour}:${p.minute}`;
    const today = day(opts.now ? parse(opts.now) || new Date() : new Date());
    const withDate = opts.date === true || (opts.date !== false && day(date) !== today);
    return `${withDate ? `${day(date)} ` : ""}${clock}${opts.zone ? ` ${label(date)}` : ""}`;
  }

  // The whole moment for a tooltip: "2026-03-23 07:36:05 CET".
  function full(value) {
    const date = parse(value);
    if (date === null) return "";
    return format(date, { date: true, seconds: true, zone: true });
  }

  // "40 s", "4 min", "1 h 20 min", "2 d 3 h" (rounded down, as taktline/humane.py).
  function duration(seconds) {
    if (!Number.isFinite(seconds) || seconds < 0) return "0 s";
    const whole = Math.floor(seconds);
    if (whole < 60) return `${whole} s`;
    if (whole < 3600) return `${Math.floor(whole / 60)} min`;
    if (whole < 86400) {
      const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60);
      return m ? `${h} h ${m} min` : `${h} h`;
    }
    const d = Math.floor(whole / 86400), h = Math.floor((whole % 86400) / 3600);
    return h ? `${d} d ${h} h` : `${d} d`;
  }

  // Three significant digits, thousands grouped: 1234.567 -> "1,235", 0.03456 -> "0.0346".
  function rounded(value, digits) {
    const n = Number(value);
    if (value === null || value === undefined || value === "" || !Number.isFinite(n)) return "—";
    if (n === 0) return "0";
    const places = Math.max(0, (digits || 3) - 1 - Math.floor(Math.log10(Math.abs(n))));
    const r = Number(n.toFixed(places));
    if (places === 0 || Number.isInteger(r)) return Math.round(r).toLocaleString("en-US");
    return r.toLocaleString("en-US", { maximumFractionDigits: places });
  }

  // How far the plant's clock is ahead of UTC at `date`, in ms (+3600000 for CET).
  function offset(date) {
    const p = parts(date, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    const wall = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour) % 24, Number(p.minute), Number(p.second));
    return wall - Math.floor(date.getTime() / 1000) * 1000;
  }

  // A moment as a datetime-local input's value on the plant's clock: "2026-03-23T07:56".
  function toInput(value) {
    const date = parse(value);
    if (date === null) return "";
    return new Date(date.getTime() + offset(date)).toISOString().slice(0, 16);
  }

  // A datetime-local input's value, read as the plant's wall-clock time; null when unreadable.
  function fromInput(text) {
    const found = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(text || "");
    if (!found) return null;
    const wall = Date.UTC(+found[1], +found[2] - 1, +found[3], +found[4], +found[5]);
    let guess = new Date(wall - offset(new Date(wall)));
    guess = new Date(wall - offset(guess));  // the offset where the moment is (a DST change)
    return guess;
  }

  // A time-stamp element: the plant's clock as text, the whole moment (and the raw value) on hover.
  function stamp(value, options) {
    const node = document.createElement("time");
    const date = parse(value);
    node.textContent = date === null ? "—" : format(date, options);
    if (date !== null) { node.dateTime = date.toISOString(); node.title = full(date); }
    return node;
  }

  window.taktlineTime = {
    get zone() { return zone; }, parse, format, full, duration, rounded, stamp, label, offset, toInput, fromInput,
  };
})();
