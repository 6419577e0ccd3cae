/* The daily round: the lamps and circuits to visit on a day, street by street, to print or download as CSV.
 * A circuit is one stop, checked at its cabinet; its link shows its lamps on the predictions page. */
(function () {
  "use strict";
  const SL = window.SL;
  const { config, t, h, api, fmt } = SL;

  const form = document.getElementById("round-form");
  const dayInput = document.getElementById("round-day");
  const csvLink = document.getElementById("round-csv");
  const errorBox = document.getElementById("round-error");
  const streetsBox = document.getElementById("round-streets");
  const emptyBox = document.getElementById("round-empty");
  const title = document.getElementById("round-title");
  const summary = document.getElementById("round-summary");

  const longDate = new Intl.DateTimeFormat(fmt.locale, { dateStyle: "full", timeZone: "UTC" });
  const COLUMNS = ["position", "lamp", "address", "reason", "work_order", "risk", "done"];

  const risk = (visit) => (visit.probability == null ? "–" : `${fmt.number(visit.probability * 100, 0)}\u202f%`);
  const doneBox = () => h("span", { class: "done-box", "aria-hidden": "true" });

  function circuitRow(visit) {
    return h("tr", { class: "circuit-stop", dataset: { circuit: visit.circuit } },
      h("td", { class: "num" }, String(visit.position)),
      h("th", { scope: "row" },
        h("a", { href: "/predictions?" + new URLSearchParams({ circuit: visit.circuit }).toString() }, visit.name),
        h("span", { class: "link-sub" }, t("round.circuit_note"))),
      h("td", {}, visit.streets.length ? visit.streets.join(", ") : "–"),
      h("td", {}, visit.reason || "–"),
      h("td", {}, "–"),
      h("td", { class: "num" }, risk(visit)),
      h("td", {}, doneBox()));
  }

  function visitRow(visit) {
    if (visit.kind === "circuit") return circuitRow(visit);
    return h("tr", { dataset: { lampId: visit.lamp_id, workOrder: String(visit.work_order_id) } },
      h("td", { class: "num" }, String(visit.position)),
      h("th", { scope: "row" }, SL.lampLink(visit.lamp_id),
        visit.name && visit.name !== visit.lamp_id ? h("span", { class: "link-sub" }, visit.name) : null),
      h("td", {}, visit.address || "–"),
      h("td", {}, visit.reason || "–", visit.notes && visit.notes.split("\n")[0] !== visit.reason
        ? h("span", { class: "link-sub" }, visit.notes) : null),
      h("td", {}, h("a", { href: "/work-orders?id=" + visit.work_order_id }, t("work_order.number", { number: visit.work_order_id })),
        visit.status === "scheduled" ? h("span", { class: "link-sub" }, t("wo_status.scheduled")) : null),
      h("td", { class: "num" }, risk(visit)),
      h("td", {}, doneBox()));
  }

  function streetSection(street, index) {
    const id = "street-" + index;
    const name = street.street || t("round.street_none");
    return h("section", { class: "card round-street", "aria-labelledby": id, dataset: { street: street.street } },
      h("h2", { id }, h("span", {}, name), h("span", { class: "muted small" },
        t("round.street_count", { count: street.visits.length }))),
      h("div", { class: "table-wrap" },
        h("table", { class: "table" },
          h("caption", { class: "visually-hidden" }, name),
          h("thead", {}, h("tr", {}, ...COLUMNS.map((column) =>
            h("th", { scope: "col", class: column === "position" || column === "risk" ? "num" : null },
              t("round.col." + column))))),
          h("tbody", {}, ...street.visits.map(visitRow)))));
  }

  async function load(day) {
    try {
      const round = await api("/api/v1/round", { params: { day: day || null, lang: config.lang } });
      SL.showError(errorBox, "");
      dayInput.value = round.day;
      const heading = t("round.heading", { day: longDate.format(new Date(round.day + "T00:00:00Z")) });
      title.textContent = heading;
      document.title = `${heading} · Streetlight`;
      summary.textContent = [
        t("round.summary", { total: round.total, scheduled: round.scheduled, capacity: round.capacity }),
        round.circuits ? t("round.summary_circuits", { count: round.circuits }) : "",
      ].filter(Boolean).join(" ");
      csvLink.href = "/api/v1/round.csv?" + new URLSearchParams({ day: round.day, lang: config.lang }).toString();
      streetsBox.replaceChildren(...round.streets.map(streetSection));
      streetsBox.dataset.total = String(round.total);
      emptyBox.hidden = round.total !== 0;
    } catch (err) {
      SL.showError(errorBox, SL.errorText(err));
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const url = new URL(location.href);
    url.searchParams.set("day", dayInput.value);
    history.replaceState(null, "", url);
    load(dayInput.value);
  });
  document.getElementById("round-print").addEventListener("click", () => window.print());

  const asked = new URLSearchParams(location.search).get("day");
  load(asked && /^\d{4}-\d{2}-\d{2}$/.test(asked) ? asked : null);
})();
