// The ticket list: filters apply as soon as they change, and the search box searches as
// you type. Every state is a URL, so the back button and bookmarks keep working:
// - the first live search from a page adds a history entry (Back returns to the list as it
//   was); later keystrokes of the same burst of typing (until the box loses focus) replace it;
// - a filter that applies itself loads a new page, one history entry per change;
// - Apply (or Enter) always sends the text in the box as it is now, even when the live
//   search has not run yet, and adds no entry when the address would not change.
"use strict";
(function () {
  const filters = document.getElementById("filters");
  const searchForm = document.querySelector("form.search");
  const box = document.getElementById("q");
  if (!filters || !searchForm || !box) return;

  // On a phone the filter panel starts folded (its summary says when filters are on), so the
  // tickets are on the first screen; it opens again when the window gets wide.
  const panel = document.getElementById("filter-panel");
  const narrow = window.matchMedia("(max-width: 720px)");
  if (panel) {
    panel.open = !narrow.matches;
    narrow.addEventListener("change", () => {
      if (!narrow.matches) panel.open = true;
    });
  }

  let timer = null;
  let latest = 0; // bumped by every request and navigation; a stale answer is dropped
  let inBurst = false; // this burst of typing already has its own history entry

  function cancelLiveSearch() {
    clearTimeout(timer);
    timer = null;
    latest++;
  }

  // Query strings compared by meaning: order and empty fields do not matter.
  function sameQuery(a, b) {
    const norm = (search) =>
      [...new URLSearchParams(search)]
        .filter(([, value]) => value !== "")
        .map(([name, value]) => name + "=" + value)
        .sort()
        .join("&");
    return norm(a) === norm(b);
  }

  filters.addEventListener("change", (event) => {
    if (event.target.matches("select, input[type=checkbox], input[type=radio]")) {
      // A new sort starts in its own natural order (due: soonest first, updated: newest).
      if (event.target.name === "sort" && filters.elements.order) {
        filters.elements.order.disabled = true;
      }
      filters.requestSubmit();
    }
  });

  // The filter form sends the search box's current text, not the one the page was loaded with.
  filters.addEventListener("formdata", (event) => {
    event.formData.set("q", box.value);
  });

  // What the filter form would send as the page now stands (its formdata handler adds q).
  const formQuery = (text) => {
    const params = new URLSearchParams(new FormData(filters));
    if (text !== undefined) params.set("q", text);
    return params.toString();
  };
  let shownQuery = formQuery();

  filters.addEventListener("submit", (event) => {
    cancelLiveSearch();
    const query = formQuery();
    if (query === shownQuery || sameQuery(query, location.search)) {
      // Nothing would change: reload in place instead of adding a second, identical entry.
      event.preventDefault();
      location.replace(filters.action + "?" + query);
    }
  });

  searchForm.addEventListener("submit", (event) => {
    cancelLiveSearch();
    const params = new URLSearchParams(new FormData(searchForm));
    if (sameQuery(params.toString(), location.search)) {
      event.preventDefault();
      location.replace(searchForm.action + "?" + params.toString());
    }
  });

  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      const params = new URLSearchParams(new FormData(searchForm));
      params.delete("page");
      const url = searchForm.action + "?" + params.toString();
      if (sameQuery(params.toString(), location.search)) {
        latest++; // back to what is shown: drop an answer still on its way
        return;
      }
      show(url, inBurst ? "replace" : "push");
    }, 200);
  });
  // Typing again after leaving the box is a new search with its own entry.
  box.addEventListener("blur", () => {
    if (timer === null) inBurst = false;
  });

  // Back and Forward between entries this page added: show the list of that address.
  window.addEventListener("popstate", () => {
    clearTimeout(timer);
    timer = null;
    inBurst = false;
    box.value = new URLSearchParams(location.search).get("q") || "";
    show(location.href, "none");
  });
  window.addEventListener("pageshow", () => {
    inBurst = false;
  });

  async function show(url, mode) {
    const ticket = ++latest;
    let html;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) {
        if (mode === "none") location.reload();
        return;
      }
      html = await response.text();
    } catch (err) {
      if (mode === "none") location.reload();
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
    shownQuery = formQuery(new URL(url, location.href).searchParams.get("q") || "");
    if (mode === "push") {
      history.pushState(null, "", url);
      inBurst = true;
    }
    else if (mode === "replace") history.replaceState(null, "", url);
    // If the user left the box while the answer was on its way, the next typing starts anew.
    if (document.activeElement !== box && timer === null) inBurst = false;
  }
})();
