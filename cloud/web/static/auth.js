// Who is logged in: asks /api/session once, shows the user (or a "Log in" link) in the header,
// shows the Audit link to admins, and gives the other scripts the headers of a change
// (`await window.taktlineAuth.headers()`: the session's CSRF token). Loaded before app.js.
"use strict";

window.taktlineAuth = (() => {
  const session = fetch("/api/session").then((r) => r.json()).catch(() => ({}));

  async function headers() {
    const known = await session;
    return { "Content-Type": "application/json", ...(known.csrf ? { "X-CSRF-Token": known.csrf } : {}) };
  }

  async function logout() {
    await fetch("/api/logout", { method: "POST", headers: await headers() });
    location.assign("/login");
  }

  session.then((known) => {
    const box = document.getElementById("who");
    if (!box) return;
    if (known.user) {
      const out = document.createElement("a");
      out.href = "#"; out.id = "logout"; out.textContent = "Log out";
      out.addEventListener("click", (event) => { event.preventDefault(); logout(); });
      box.replaceChildren(`${known.user} (${known.role}) · `, out);
    } else {
      const login = document.createElement("a");
      login.href = `/login?next=${encodeURIComponent(location.pathname)}`; login.id = "login"; login.textContent = "Log in";
      box.replaceChildren("viewing anonymously · ", login);
    }
    const audit = document.querySelector('nav a[data-view="audit"]');
    if (audit) audit.hidden = known.role !== "admin";
  });

  return { session, headers };
})();
