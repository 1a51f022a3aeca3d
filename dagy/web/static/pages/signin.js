// Sign in with email + password (POST /auth/login); the token goes to sessionStorage.
import { api, session } from "../api.js";
import { registerPage, navigate, current, browserSignInResult } from "../app.js";
import { startBrowserSignIn } from "../pkce.js";
import { errorText, field, h, mount, me, forgetMe } from "../ui.js";

class SignInPage extends HTMLElement {
  connectedCallback() {
    const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
    const password = h("input", { type: "password", name: "password", autocomplete: "current-password" });
    const error = h("p", { class: "error", role: "alert" }, browserSignInResult()?.error || "");
    const next = () => {
      const n = this.query?.get("next");
      return n && n.startsWith("/") && n !== "/sign-in" ? n : "/";
    };
    const browser = h("button", {
      type: "button", class: "link", id: "browser-sign-in",
      onclick: () => startBrowserSignIn(next()).catch((e) => { error.textContent = errorText(e); }),
    }, "Sign in on the server's sign-in page");
    const form = h("form", { class: "card narrow", id: "sign-in" },
      h("h1", {}, "Sign in to Dagy"),
      field("Email", email),
      field("Password", password),
      error,
      h("button", { type: "submit", class: "primary" }, "Sign in"),
      h("p", { class: "muted" }, "or ", browser, " (the browser sign-in `dagy login` uses)"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      try {
        const r = await api("POST", "/auth/login", { email: email.value, password: password.value });
        session.token = r.access_token;
        session.org = null;
        forgetMe();
        await me(true);
        document.dispatchEvent(new Event("dagy:signed-in"));
        navigate(next());
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
