/* Accounts (administrators only: the server refuses this page and GET /api/v1/users to other roles). */
(function () {
  "use strict";
  const SL = window.SL;
  const { t, h, api, fmt } = SL;
  const body = document.querySelector("#users-table tbody");
  const count = document.getElementById("users-count");
  const errorBox = document.getElementById("users-error");

  async function load() {
    try {
      const users = await api("/api/v1/users");
      count.textContent = t("users.count", { count: fmt.number(users.length) });
      body.replaceChildren(...users.map((user) =>
        h("tr", { dataset: { username: user.username } },
          h("th", { scope: "row" }, user.username),
          h("td", {}, user.display_name || "–"),
          h("td", {}, t("role." + user.role)),
          h("td", {}, user.locale === "fr" ? "Français" : "English"),
          h("td", {},
            user.active
              ? h("span", { class: "badge badge-online" }, t("users.active"))
              : h("span", { class: "badge badge-unknown" }, t("users.inactive")),
            user.has_password ? null : h("span", { class: "badge badge-unknown" }, t("users.token_only")),
            user.demo_password ? h("span", { class: "badge badge-warn" }, t("users.demo_password")) : null),
          h("td", {}, h("time", { datetime: user.created_at }, fmt.date(user.created_at))))));
    } catch (err) {
      count.textContent = "";
      SL.showError(errorBox, SL.errorText(err));
    }
  }
  load();
})();
