// Sign in with email + password (POST /auth/login); the token goes to sessionStorage.
import { api, session } from "../api.js";
import { registerPage, navigate, current } from "../app.js";
import { errorText, field, h, mount, me, forgetMe } from "../ui.js";

class SignInPage extends HTMLElement {
  connectedCallback() {
    const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
    const password = h("input", { type: "password", name: "password", autocomplete: "current-password" });
    const error = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "card narrow", id: "sign-in" },
      h("h1", {}, "Sign in to Dagy"),
      field("Email", email),
      field("Password", password),
      error,
      h("button", { type: "submit", class: "primary" }, "Sign in"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      try {
        const r = await api("POST", "/auth/login", { email: email.value, password: password.value });
        session.token = r.access_token;
        session.org = null;
        forgetMe();
        await me(true);
        const next = this.query?.get("next");
        document.dispatchEvent(new Event("dagy:signed-in"));
        navigate(next && next.startsWith("/") && next !== "/sign-in" ? next : "/");
      } catch (e) {
        session.token = null;
        error.textContent = errorText(e);
      }
    });
    mount(this, form);
    if (session.token && current().path === "/sign-in") navigate("/");
  }
}
customElements.define("dagy-sign-in", SignInPage);
registerPage("/sign-in", "dagy-sign-in", { title: "Sign in", public: true });
