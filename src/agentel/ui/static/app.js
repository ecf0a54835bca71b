// agentel viewer: the few things a server-rendered page cannot do alone.
// Every piece of HTML inserted here comes from the viewer's own server, rendered with
// escaping; nothing from a span is ever turned into markup in the browser.
"use strict";

(function () {
  const POLL_MS = 2000;

  // Filters: leave empty fields out of the URL, so a bookmarked view says only what it filters.
  const form = document.getElementById("filters");
  if (form) {
    form.addEventListener("submit", () => {
      for (const field of form.elements) {
        if ((field.tagName === "INPUT" || field.tagName === "SELECT") && !field.value) {
          field.disabled = true;
        }
      }
    });
  }

  // Trace list: new traces appear without a reload, on the first page.
  const rows = document.getElementById("rows");
  if (rows && rows.dataset.live === "1") {
    let last = null;
    const poll = async () => {
      if (document.visibilityState === "visible") {
        try {
          const response = await fetch("/rows" + window.location.search, { cache: "no-store" });
          if (response.ok) {
            const html = (await response.text()).trim();
            if (last !== null && html !== last) {
              rows.innerHTML = html;
            }
            last = html;
          }
        } catch (error) {
          // the viewer was stopped: try again on the next tick
        }
      }
      window.setTimeout(poll, POLL_MS);
    };
    poll();
  }

  // Trace page of a run still going: load it again until its root span has arrived.
  const running = document.querySelector(".trace-head[data-running]");
  if (running) {
    window.setTimeout(() => window.location.reload(), POLL_MS);
  }

  // Trace page: clicking a span shows its details beside the waterfall.
  const waterfall = document.getElementById("waterfall");
  const details = document.getElementById("details");
  if (waterfall && details) {
    const traceId = waterfall.dataset.traceId;
    waterfall.addEventListener("click", async (event) => {
      const row = event.target.closest(".span-row");
      if (!row) {
        return;
      }
      event.preventDefault();
      const spanId = row.dataset.spanId;
      const response = await fetch(
        "/trace/" + encodeURIComponent(traceId) + "/span/" + encodeURIComponent(spanId)
      );
      if (!response.ok) {
        return;
      }
      details.innerHTML = await response.text();
      for (const selected of waterfall.querySelectorAll(".span-row.selected")) {
        selected.classList.remove("selected");
      }
      row.classList.add("selected");
      const url = new URL(window.location.href);
      url.searchParams.set("span", spanId);
      window.history.replaceState(null, "", url);
    });
  }
})();
