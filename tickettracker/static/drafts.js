// Keeps what the user is typing in a ticket's note and status boxes across page loads that
// happen before they submit it (attaching a file reloads the page, for one). A draft lives in
// this window's sessionStorage only and is dropped when its own form is submitted.
(function () {
  "use strict";
  var store;
  try {
    store = window.sessionStorage;
  } catch (e) {
    return; // storage switched off: the page works as before, without drafts
  }
  var boxes = document.querySelectorAll("textarea[data-draft]");
  boxes.forEach(function (box) {
    // The ticket's creation time goes into the key too: after a backup is restored the same
    // address can show another ticket, which must not be offered this one's draft.
    var stamp = box.form && box.form.elements.ticket_created;
    var key = "draft:" + location.pathname + ":" + (stamp ? stamp.value : "") + ":" + box.id;
    var saved = store.getItem(key);
    if (saved && !box.value) {
      box.value = saved;
    }
    box.addEventListener("input", function () {
      if (box.value) {
        store.setItem(key, box.value);
      } else {
        store.removeItem(key);
      }
    });
    if (box.form) {
      box.form.addEventListener("submit", function () {
        store.removeItem(key);
      });
    }
  });
})();
