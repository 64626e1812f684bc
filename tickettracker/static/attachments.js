// Attaching files on the ticket page: drag and drop, pasting images, a list of the chosen
// files and the size limit checked before anything is sent. Progressive enhancement only:
// without this script the plain file pickers of the two forms do the same job.
(function () {
  "use strict";

  var noteForm = document.querySelector('form[data-upload="note"]');
  var ticketForm = document.querySelector('form[data-upload="ticket"]');
  var ticketZone = document.querySelector('[data-dropzone="ticket"]');
  var hint = document.querySelector(".drop-hint");
  if (!noteForm && !ticketForm) return;

  function formatSize(size) {
    if (size < 1024) return size === 1 ? "1 byte" : size + " bytes";
    var units = ["KB", "MB", "GB", "TB"];
    var value = size;
    var unit = "";
    for (var i = 0; i < units.length; i++) {
      value /= 1024;
      unit = units[i];
      if (value < 1024) break;
    }
    var text = value < 100 ? value.toFixed(1).replace(/\.0$/, "") : value.toFixed(0);
    return text + " " + unit;
  }

  function parts(form) {
    return {
      form: form,
      input: form.querySelector('input[type="file"]'),
      list: form.querySelector(".pending-files"),
      error: form.querySelector(".upload-error"),
      button: form.querySelector('button[type="submit"]:not(.quiet)'),
    };
  }

  function setFiles(p, files) {
    var transfer = new DataTransfer();
    files.forEach(function (f) { transfer.items.add(f); });
    p.input.files = transfer.files;
  }

  // Keep only files within the limit; say which were left out and why.
  function enforceLimit(p) {
    var max = Number(p.input.dataset.maxBytes || 0);
    var files = Array.prototype.slice.call(p.input.files);
    var kept = files.filter(function (f) { return !max || f.size <= max; });
    var refused = files.filter(function (f) { return max && f.size > max; });
    if (refused.length) {
      setFiles(p, kept);
      p.error.textContent = refused.map(function (f) {
        var size = formatSize(f.size);
        if (size === p.input.dataset.maxLabel) {
          // Rounded, the size would read as the limit itself.
          size = f.size.toLocaleString("en") + " bytes, just over " + size;
        }
        return "“" + f.name + "” is " + size + "; files may be at most " +
          p.input.dataset.maxLabel + ". It was not added.";
      }).join(" ");
      p.error.hidden = false;
    } else {
      p.error.hidden = true;
      p.error.textContent = "";
    }
  }

  function render(p) {
    var files = Array.prototype.slice.call(p.input.files);
    p.list.textContent = "";
    files.forEach(function (f, index) {
      var item = document.createElement("li");
      var name = document.createElement("span");
      name.className = "file-name";
      name.textContent = f.name;
      var size = document.createElement("span");
      size.className = "file-size";
      size.textContent = formatSize(f.size);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "quiet";
      remove.textContent = "×";
      remove.setAttribute("aria-label", "Do not attach " + f.name);
      remove.addEventListener("click", function () {
        var rest = Array.prototype.slice.call(p.input.files);
        rest.splice(index, 1);
        setFiles(p, rest);
        render(p);
      });
      item.append(name, size, remove);
      p.list.append(item);
    });
    p.list.hidden = files.length === 0;
  }

  function addFiles(p, files) {
    setFiles(p, Array.prototype.slice.call(p.input.files).concat(files));
    enforceLimit(p);
    render(p);
  }

  function wire(form) {
    if (!form) return null;
    var p = parts(form);
    p.input.addEventListener("change", function () { enforceLimit(p); render(p); });
    form.addEventListener("submit", function () {
      if (p.button) {
        p.button.disabled = true;
        p.button.setAttribute("aria-busy", "true");
        p.button.textContent = p.input.files.length ? "Uploading…" : p.button.textContent;
      }
    });
    return p;
  }

  var note = wire(noteForm);
  var ticket = wire(ticketForm);

  // --- drag and drop --------------------------------------------------------------------
  function carriesFiles(event) {
    var types = event.dataTransfer ? event.dataTransfer.types : [];
    return Array.prototype.indexOf.call(types, "Files") !== -1;
  }

  function dropTarget(event) {
    if (ticket && ticketZone && event.target.closest && event.target.closest('[data-dropzone="ticket"]')) {
      return ticket;
    }
    return note || ticket;
  }

  function showDrop(target) {
    document.body.classList.add("drag-active");
    if (hint) hint.hidden = false;
    [note, ticket].forEach(function (p) {
      if (p) p.form.classList.toggle("drop-target", p === target);
    });
    if (ticketZone) ticketZone.classList.toggle("drop-target", target === ticket);
  }

  function hideDrop() {
    document.body.classList.remove("drag-active");
    if (hint) hint.hidden = true;
    document.querySelectorAll(".drop-target").forEach(function (el) {
      el.classList.remove("drop-target");
    });
  }

  document.addEventListener("dragover", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    showDrop(dropTarget(event));
  });
  document.addEventListener("dragleave", function (event) {
    if (!event.relatedTarget) hideDrop();
  });
  document.addEventListener("drop", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    hideDrop();
    var target = dropTarget(event);
    var files = Array.prototype.slice.call(event.dataTransfer.files);
    if (!target || !files.length) return;
    addFiles(target, files);
    if (target === ticket) {
      if (ticket.input.files.length) ticket.form.requestSubmit();
    } else {
      target.form.scrollIntoView({ block: "center" });
      var body = target.form.querySelector("textarea");
      if (body) body.focus({ preventScroll: true });
    }
  });

  // --- pasting images -------------------------------------------------------------------
  function stamp() {
    var d = new Date();
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
      two(d.getHours()) + "-" + two(d.getMinutes()) + "-" + two(d.getSeconds());
  }

  document.addEventListener("paste", function (event) {
    if (!note || !event.clipboardData) return;
    var files = Array.prototype.slice.call(event.clipboardData.files || []);
    if (!files.length) return;
    event.preventDefault();
    // Screenshots arrive as "image.png": give them a name that says what and when.
    files = files.map(function (f) {
      if (!/^image\.\w+$/.test(f.name)) return f;
      var ext = f.name.split(".").pop();
      return new File([f], "Pasted image " + stamp() + "." + ext, { type: f.type });
    });
    addFiles(note, files);
    note.form.scrollIntoView({ block: "center" });
  });

  // --- previews: click (or Enter) to see an image at full width -------------------------
  document.querySelectorAll(".attachment-preview").forEach(function (img) {
    function toggle() { img.closest(".attachment").classList.toggle("expanded"); }
    img.addEventListener("click", toggle);
    img.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        toggle();
      }
    });
  });
})();
