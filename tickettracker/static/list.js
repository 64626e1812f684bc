// The ticket list: filters apply as soon as they change, and the search box searches as
// you type. Every state is a URL, so the back button and bookmarks keep working.
"use strict";
(function () {
  const filters = document.getElementById("filters");
  const searchForm = document.querySelector("form.search");
  const box = document.getElementById("q");
  if (!filters || !searchForm || !box) return;

  filters.addEventListener("change", (event) => {
    if (event.target.matches("select, input[type=checkbox], input[type=radio]")) {
      // A new sort starts in its own natural order (due: soonest first, updated: newest).
      if (event.target.name === "sort" && filters.elements.order) {
        filters.elements.order.disabled = true;
      }
      filters.requestSubmit();
    }
  });

  let timer = null;
  let latest = 0;
  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  });

  async function refresh() {
    const params = new URLSearchParams(new FormData(searchForm));
    params.delete("page");
    const url = searchForm.action + "?" + params.toString();
    const ticket = ++latest;
    let html;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) return;
      html = await response.text();
    } catch (err) {
      return; // the Search button still works
    }
    if (ticket !== latest) return; // a newer keystroke already asked again
    const doc = new DOMParser().parseFromString(html, "text/html");
    const fresh = doc.getElementById("results");
    const current = document.getElementById("results");
    if (!fresh || !current) return;
    current.replaceWith(fresh);
    // The filter form carries the search and the sort that now applies (relevance).
    const freshFilters = doc.getElementById("filters");
    if (freshFilters) filters.innerHTML = freshFilters.innerHTML;
    // One history entry per search, not per keystroke.
    history.replaceState(null, "", url);
  }
})();
