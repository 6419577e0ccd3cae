/* The profile editor: steps table, twilight choice, a live preview of the night's curve
 * and its estimated saving (POST /api/v1/dimming/preview, the profile unsaved), errors
 * per step, save as a new version, copy, retire. Technicians see it read-only.
 */
(function () {
  "use strict";

  const { t, h, api, fmt, errorText, showError, config } = window.SL;
  const canEdit = Boolean(config.canEdit);
  const profilePath = `/api/v1/dimming/profiles/${config.profileId}`;
  const ANCHORS = ["dusk", "clock", "dawn"];
  const errorBox = document.getElementById("profile-error");
  const statusBox = document.getElementById("profile-status");
  const form = document.getElementById("profile-form");
  const tbody = document.querySelector("#steps-table tbody");
  const figures = document.getElementById("preview-figures");
  const dateInput = document.getElementById("preview-date");
  const groupInput = document.getElementById("preview-group");
  let profile = null;
  let steps = [];
  let plot = null;
  let previewToken = 0;
  let previewTimer = null;

  const localDay = new Intl.DateTimeFormat("en-CA", { timeZone: fmt.zone, year: "numeric", month: "2-digit", day: "2-digit" });
  dateInput.value = localDay.format(new Date());

  function say(message) {
    statusBox.textContent = message;
    statusBox.hidden = !message;
    if (message) showError(errorBox, "");
  }

  function twilight() {
    const checked = form.querySelector('input[name="twilight"]:checked');
    return checked ? checked.value : "sunset";
  }

  function stepText(step) {
    if (step.anchor === "clock") return step.time || "–";
    const offset = Number(step.offset_min || 0);
    if (!offset) return t("profile.step.at." + step.anchor);
    return t(offset > 0 ? "profile.step.after." + step.anchor : "profile.step.before." + step.anchor, { minutes: Math.abs(offset) });
  }

  // ------------------------------------------------------------------ the steps table

  function whenInput(step, index) {
    const label = t("profile.step.when_label", { number: index + 1 });
    if (step.anchor === "clock") {
      return h("input", {
        type: "time", value: step.time || "", required: true, "aria-label": label, dataset: { field: "time" },
        oninput: (e) => { step.time = e.target.value; schedulePreview(); },
      });
    }
    return h("input", {
      type: "number", step: "1", min: "-240", max: "240", value: step.offset_min ?? 0, "aria-label": label,
      dataset: { field: "offset_min" }, class: "input-minutes",
      oninput: (e) => { step.offset_min = e.target.value === "" ? null : Number(e.target.value); schedulePreview(); },
    }, null);
  }

  function renderSteps() {
    const rows = steps.map((step, index) => {
      const number = index + 1;
      if (!canEdit) {
        return h("tr", { dataset: { step: number } },
          h("td", { class: "num" }, number),
          h("td", {}, t("profile.anchor." + step.anchor)),
          h("td", {}, stepText(step)),
          h("td", { class: "num" }, `${step.level}\u202f%`));
      }
      const anchor = h("select", {
        "aria-label": t("profile.step.anchor_label", { number }), dataset: { field: "anchor" },
        onchange: (e) => {
          step.anchor = e.target.value;
          if (step.anchor === "clock") { step.time = step.time || "23:00"; delete step.offset_min; }
          else { step.offset_min = step.offset_min ?? 0; delete step.time; }
          renderSteps();
          schedulePreview();
        },
      }, ANCHORS.map((a) => h("option", { value: a, selected: a === step.anchor }, t("profile.anchor." + a))));
      const level = h("input", {
        type: "number", min: "0", max: "100", step: "1", value: step.level, required: true,
        "aria-label": t("profile.step.level_label", { number }), dataset: { field: "level" },
        oninput: (e) => { step.level = e.target.value === "" ? null : Number(e.target.value); schedulePreview(); },
      });
      const move = (delta) => () => {
        const other = index + delta;
        if (other < 0 || other >= steps.length) return;
        [steps[index], steps[other]] = [steps[other], steps[index]];
        renderSteps();
        schedulePreview();
      };
      return h("tr", { dataset: { step: number } },
        h("td", { class: "num" }, number),
        h("td", {}, anchor),
        h("td", {}, whenInput(step, index)),
        h("td", { class: "num" }, level),
        h("td", {},
          h("button", { type: "button", class: "btn btn-small", onclick: move(-1), disabled: index === 0,
            "aria-label": t("profile.step.up", { number }) }, "↑"),
          h("button", { type: "button", class: "btn btn-small", onclick: move(1), disabled: index === steps.length - 1,
            "aria-label": t("profile.step.down", { number }) }, "↓"),
          h("button", { type: "button", class: "btn btn-small", "aria-label": t("profile.step.remove", { number }),
            onclick: () => { steps.splice(index, 1); renderSteps(); schedulePreview(); } }, t("dimming.remove"))));
    });
    tbody.replaceChildren(...rows);
  }

  function cleanSteps() {
    return steps.map((step) => {
      const out = { anchor: step.anchor, level: step.level === null || step.level === undefined ? -1 : Number(step.level) };
      if (step.anchor === "clock") out.time = step.time || "";
      else out.offset_min = step.offset_min === null || step.offset_min === undefined ? 0 : Number(step.offset_min);
      return out;
    });
  }

  function showStepErrors(errors) {
    for (const row of tbody.querySelectorAll("tr")) {
      row.classList.remove("row-invalid");
      for (const input of row.querySelectorAll("input, select")) input.removeAttribute("aria-invalid");
    }
    const list = document.getElementById("profile-errors");
    list.replaceChildren(...errors.map((e) => h("li", { class: "event event-lamp_failure", dataset: { step: e.step ?? "" } }, e.message)));
    for (const e of errors) {
      const row = e.step ? tbody.querySelector(`tr[data-step="${e.step}"]`) : null;
      if (!row) continue;
      row.classList.add("row-invalid");
      const input = row.querySelector(`[data-field="${e.field}"]`) || row.querySelector("input");
      if (input) input.setAttribute("aria-invalid", "true");
    }
  }

  // ------------------------------------------------------------------ preview

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 250);
  }

  async function preview() {
    const token = ++previewToken;
    figures.setAttribute("aria-busy", "true");
    try {
      const result = await api("/api/v1/dimming/preview", {
        method: "POST",
        json: { twilight: twilight(), steps: cleanSteps(), date: dateInput.value || null, group: groupInput.value.trim() || null },
      });
      if (token !== previewToken) return;
      showError(errorBox, "");
      showStepErrors(result.errors || []);
      renderFigures(result);
      drawCurve(result);
    } catch (err) {
      if (token !== previewToken) return;
      showError(errorBox, errorText(err));
    } finally {
      if (token === previewToken) figures.removeAttribute("aria-busy");
    }
  }

  function fact(term, value, key) {
    return [h("dt", {}, term), h("dd", { dataset: key ? { figure: key } : {} }, value)];
  }

  function renderFigures(result) {
    const night = result.night;
    const month = result.month;
    const worth = result.month_savings;
    figures.dataset.nightSavedKwh = night ? String(night.saved_kwh) : "";
    figures.dataset.monthSavedKwh = month ? String(month.saved_kwh) : "";
    const power = result.lamps
      ? t("profile.preview.power_lamps", { lamps: fmt.number(result.lamps), power: fmt.unit(result.rated_power_w / 1000, "kW", 1) })
      : t("profile.preview.power_one", { power: fmt.unit(result.rated_power_w, "W", 0) });
    const polar = result.polar ? t("profile.preview.polar." + result.polar) : null;
    figures.replaceChildren(
      ...fact(t("profile.preview.for"), power),
      ...fact(t("profile.preview.dusk_dawn"), polar || `${fmt.dateTime(result.dusk)} → ${fmt.dateTime(result.dawn)}`),
      ...(night ? [
        ...fact(t("profile.preview.night_hours"), fmt.unit(night.night_hours, "h", 1)),
        ...fact(t("profile.preview.night_full"), fmt.energyKwh(night.full_kwh)),
        ...fact(t("profile.preview.night_dimmed"), fmt.energyKwh(night.dimmed_kwh)),
        ...fact(t("profile.preview.night_saved"),
          t("profile.preview.saved_share", { kwh: fmt.energyKwh(night.saved_kwh), share: fmt.number(night.saved_share * 100, 0) }),
          "night-saved"),
      ] : [...fact(t("profile.preview.night_saved"), t("profile.preview.fix_errors"), "night-saved")]),
      ...(month && worth ? [
        ...fact(t("profile.preview.month_saved"), t("profile.preview.month_text", {
          kwh: fmt.energyKwh(worth.kwh), eur: fmt.unit(worth.cost_eur, "€", 0), co2: fmt.unit(worth.co2_kg, "kg CO₂", 0),
        }), "month-saved"),
      ] : []),
    );
  }

  const tickTime = new Intl.DateTimeFormat(fmt.locale, { timeZone: fmt.zone, hour: "2-digit", minute: "2-digit" });

  function drawCurve(result) {
    const figure = document.getElementById("preview-chart");
    const holder = figure.querySelector(".chart-plot");
    if (plot) { plot.destroy(); plot = null; }
    holder.replaceChildren();
    const points = result.points || [];
    figure.dataset.points = String(points.length);
    if (!points.length || !window.uPlot) {
      holder.append(h("p", { class: "chart-empty muted" }, window.uPlot ? t("profile.preview.no_curve") : t("error.vendor_missing")));
      return;
    }
    const xs = points.map((p) => Date.parse(p.at) / 1000);
    const levels = points.map((p) => p.level);
    const margin = 3600;
    const from = Math.min(xs[0], result.dusk ? Date.parse(result.dusk) / 1000 : xs[0]) - margin;
    const to = Math.max(xs[xs.length - 1], result.dawn ? Date.parse(result.dawn) / 1000 : xs[0]) + margin;
    const data = [[from, ...xs, to], [0, ...levels, 0]];
    const width = Math.max(260, holder.clientWidth || 520);
    plot = new uPlot({
      width,
      height: 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), fmt.zone),
      scales: { x: { time: true, range: () => [from, to] }, y: { range: [0, 100] } },
      series: [
        { label: t("lamp.chart_time"), value: (u, ts) => (ts === null || ts === undefined ? "–" : fmt.dateTime(ts * 1000)) },
        {
          label: t("dimming.level"), stroke: "#1c6fc9", fill: "rgba(28, 111, 201, 0.12)", width: 2,
          paths: uPlot.paths.stepped({ align: 1 }), points: { show: false },
          value: (u, v) => (v === null || v === undefined ? "–" : `${v}\u202f%`),
        },
      ],
      axes: [
        { values: (u, splits) => splits.map((ts) => tickTime.format(new Date(ts * 1000))), stroke: "#4b5563",
          grid: { stroke: "#e5e7eb" }, size: 40 },
        { values: (u, splits) => splits.map((v) => `${v}\u202f%`), stroke: "#4b5563", grid: { stroke: "#e5e7eb" }, size: 52 },
      ],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
    }, data, holder);
  }

  dateInput.addEventListener("change", schedulePreview);
  groupInput.addEventListener("change", schedulePreview);

  // ------------------------------------------------------------------ load, save, copy, retire

  function renderProfile() {
    document.getElementById("profile-title").textContent = profile.name;
    document.getElementById("profile-crumb").textContent = profile.name;
    document.title = `${profile.name} · ${document.title.split(" · ").slice(-2).join(" · ")}`;
    document.getElementById("profile-subtitle").textContent = t("profile.subtitle", {
      version: profile.version, time: fmt.dateTime(profile.updated_at), who: profile.updated_by || "–",
    });
    const badges = document.getElementById("profile-badges");
    badges.replaceChildren(h("span", { class: "badge", id: "profile-version", dataset: { version: profile.version } },
      t("profile.version", { version: profile.version })));
    if (profile.retired_at) badges.append(h("span", { class: "badge badge-retired" }, t("dimming.profile.retired")));
    for (const radio of form.querySelectorAll('input[name="twilight"]')) radio.checked = radio.value === profile.twilight;
    if (canEdit) {
      form.elements.name.value = profile.name;
      form.elements.description.value = profile.description || "";
      const retired = Boolean(profile.retired_at);
      for (const id of ["profile-save", "retire-profile"]) document.getElementById(id).disabled = retired;
    } else {
      document.getElementById("profile-facts").replaceChildren(
        ...fact(t("dimming.profile.name"), profile.name),
        ...fact(t("profile.description"), profile.description || "–"));
    }
    steps = (profile.steps || []).map((s) => ({ ...s }));
    renderSteps();
  }

  async function load() {
    try {
      profile = await api(profilePath);
      renderProfile();
      await preview();
    } catch (err) {
      showError(errorBox, errorText(err));
    }
  }

  if (canEdit) {
    form.addEventListener("change", (event) => { if (event.target.name === "twilight") schedulePreview(); });
    document.getElementById("add-step").addEventListener("click", () => {
      const last = steps[steps.length - 1];
      const step = { anchor: "clock", time: "23:00", level: last ? last.level : 100 };
      const dawnAt = steps.findIndex((s) => s.anchor === "dawn");
      if (dawnAt >= 0) steps.splice(dawnAt, 0, step); else steps.push(step);
      renderSteps();
      schedulePreview();
      const row = tbody.querySelector(`tr[data-step="${(dawnAt >= 0 ? dawnAt : steps.length - 1) + 1}"] select`);
      if (row) row.focus();
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const save = document.getElementById("profile-save");
      save.disabled = true;
      try {
        const saved = await api(profilePath, {
          method: "PUT",
          json: {
            version: profile.version, name: form.elements.name.value.trim(),
            description: form.elements.description.value.trim(), twilight: twilight(), steps: cleanSteps(),
          },
        });
        profile = saved && saved.steps ? saved : await api(profilePath);
        renderProfile();
        say(t("profile.saved", { version: profile.version }));
        await preview();
      } catch (err) {
        if (err.status === 409) showError(errorBox, t("profile.stale"));
        else {
          const problems = err.body && (err.body.step_errors || err.body.errors);
          if (Array.isArray(problems)) showStepErrors(problems.filter((p) => p.message));
          showError(errorBox, errorText(err));
        }
      } finally {
        save.disabled = Boolean(profile && profile.retired_at);
      }
    });

    const copyForm = document.getElementById("copy-form");
    copyForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = copyForm.elements.name.value.trim();
      if (!name) { showError(errorBox, t("dimming.profile.name_missing")); return; }
      try {
        const copy = await api(`${profilePath}/copy`, { method: "POST", json: { name } });
        location.assign(`/dimming/profiles/${copy.id ?? copy.profile_id}`);
      } catch (err) { showError(errorBox, errorText(err)); }
    });

    document.getElementById("retire-profile").addEventListener("click", async () => {
      if (!window.confirm(t("profile.retire_confirm"))) return;
      try {
        await api(`${profilePath}/retire`, { method: "POST" });
        profile = await api(profilePath);
        renderProfile();
        say(t("profile.retired"));
      } catch (err) {
        showError(errorBox, err.status === 409 ? t("profile.retire_assigned") : errorText(err));
      }
    });
  }

  new ResizeObserver(() => { if (plot) plot.setSize({ width: Math.max(260, plot.root.parentElement.clientWidth), height: 220 }); })
    .observe(document.querySelector("#preview-chart .chart-plot"));

  load();
})();
