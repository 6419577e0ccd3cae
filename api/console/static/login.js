/* The sign-in form: posts the credentials to the API as JSON, then goes where the user was going. */
(function () {
  "use strict";
  const { t, api, ApiError, showError } = window.SL;
  const form = document.getElementById("login-form");
  const errorBox = document.getElementById("login-error");
  const submit = document.getElementById("login-submit");
  if (!form) return;

  function fail(message, field) {
    showError(errorBox, message);
    errorBox.focus();
    if (field) field.setAttribute("aria-invalid", "true");
  }

  // The answer to the sign-in can arrive a moment before the server has committed the new
  // session; going on at once would land back on this page. Wait (2 s at most) until it
  // holds: this page redirects a signed-in browser elsewhere.
  async function sessionReady() {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      try {
        const probe = await fetch("/login", { redirect: "manual", credentials: "same-origin", cache: "no-store" });
        if (probe.type === "opaqueredirect") return;
      } catch (err) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = form.elements.username;
    const password = form.elements.password;
    for (const field of [username, password]) field.removeAttribute("aria-invalid");
    showError(errorBox, "");
    if (!username.value.trim()) return fail(t("login.error.username_missing"), username);
    if (!password.value) return fail(t("login.error.password_missing"), password);

    submit.disabled = true;
    submit.textContent = t("login.submitting");
    try {
      await api("/api/v1/auth/login", {
        method: "POST",
        json: { username: username.value.trim(), password: password.value },
        allow401: true,
      });
      await sessionReady();
      location.assign(form.dataset.next || "/");
      return;
    } catch (err) {
      password.value = "";
      if (err instanceof ApiError && (err.status === 401 || err.status === 400 || err.status === 422)) {
        fail(t("login.error.wrong"));
      } else if (err instanceof ApiError && err.status === 429) {
        fail(t("login.error.too_many"));
      } else if (err instanceof ApiError && err.status === 0) {
        fail(t("error.network"));
      } else {
        fail(t("login.error.other"));
      }
    } finally {
      submit.disabled = false;
      submit.textContent = t("login.submit");
    }
  });
})();
