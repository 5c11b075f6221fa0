// Markbook's only script: small progressive enhancements. Every page works without it.
"use strict";

// Period picker: a preset fills the dates; typing a date switches to "Custom dates".
function setUpPeriodPickers() {
  document.querySelectorAll("[data-period-picker]").forEach((form) => {
    const select = form.querySelector("select[name=period]");
    const start = form.querySelector("input[name=start]");
    const end = form.querySelector("input[name=end]");
    if (!select || !start || !end) return;
    select.addEventListener("change", () => {
      const option = select.selectedOptions[0];
      if (option && option.dataset.start) {
        start.value = option.dataset.start;
        end.value = option.dataset.end;
      }
    });
    [start, end].forEach((input) =>
      input.addEventListener("input", () => {
        select.value = "custom";
      }),
    );
  });
}

// Live job progress over Server-Sent Events. The element carries data-events (the
// stream's URL) and holds <progress> and [data-field] spans; when the job ends the
// page reloads, and the server draws the final state (download, failures).
function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  return m < 60 ? m + " min " + (s % 60) + " s" : Math.floor(m / 60) + " h " + (m % 60) + " min";
}

function showJob(box, job) {
  const bar = box.querySelector("progress");
  if (bar) {
    if (job.percent === null || job.percent === undefined) bar.removeAttribute("value");
    else bar.value = job.percent;
  }
  const fields = {
    status: job.status,
    percent: job.percent === null || job.percent === undefined ? "—" : job.percent.toFixed(1) + "%",
    rows_done: String(job.rows_done),
    rows_total: job.rows_total === null ? "…" : String(job.rows_total),
    eta: formatSeconds(job.eta_seconds),
    failed: job.result && job.result.failed !== undefined ? String(job.result.failed) : "0",
  };
  Object.entries(fields).forEach(([name, value]) => {
    box.querySelectorAll('[data-field="' + name + '"]').forEach((el) => {
      el.textContent = value;
      if (name === "status") el.className = "badge " + value;
    });
  });
}

function followJobs() {
  if (!("EventSource" in window)) return;
  document.querySelectorAll("[data-events]").forEach((box) => {
    const source = new EventSource(box.dataset.events);
    source.addEventListener("progress", (event) => showJob(box, JSON.parse(event.data)));
    source.addEventListener("end", (event) => {
      source.close();
      showJob(box, JSON.parse(event.data));
      window.location.reload();
    });
    source.onerror = () => {
      // The browser retries on its own; say so rather than freezing silently.
      const note = box.querySelector("[data-field=connection]");
      if (note) note.textContent = "Reconnecting…";
    };
    source.onopen = () => {
      const note = box.querySelector("[data-field=connection]");
      if (note) note.textContent = "";
    };
  });
}

// Buttons that ask before they act (cancel a job, revoke a token).
function confirmForms() {
  document.querySelectorAll("form[data-confirm]").forEach((form) =>
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    }),
  );
}

// "Select all" / "Select none" for a group of checkboxes.
function checkboxGroups() {
  document.querySelectorAll("[data-check-all]").forEach((button) =>
    button.addEventListener("click", (event) => {
      event.preventDefault();
      const group = document.getElementById(button.dataset.checkAll);
      const on = button.dataset.value !== "none";
      if (group) group.querySelectorAll("input[type=checkbox]").forEach((box) => (box.checked = on));
    }),
  );
}

// Copy a share link to the clipboard.
function copyButtons() {
  document.querySelectorAll("[data-copy]").forEach((button) =>
    button.addEventListener("click", async () => {
      const target = document.getElementById(button.dataset.copy);
      if (!target) return;
      try {
        await navigator.clipboard.writeText(target.value || target.textContent);
        button.textContent = "Copied";
      } catch (error) {
        target.select && target.select();
      }
    }),
  );
}

document.addEventListener("DOMContentLoaded", () => {
  setUpPeriodPickers();
  followJobs();
  confirmForms();
  checkboxGroups();
  copyButtons();
});
