// The login page: posts the name and password to /api/login (the server sets an HttpOnly session
// cookie), then goes to the page named by ?next= (a path on this server only).
"use strict";

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const result = document.getElementById("result");
  const response = await fetch("/api/login", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: form.elements.name.value, password: form.elements.password.value }),
  });
  if (!response.ok) { result.textContent = (await response.json()).detail; result.className = "flag"; return; }
  const next = new URLSearchParams(location.search).get("next") || "/";
  location.assign(next.startsWith("/") && !next.startsWith("//") ? next : "/");
});
