// eCRF pages: warn before leaving with unsaved changes; show and hide items from the metadata
// (show_if); ask the reason for change only when a saved value is changed or removed; move
// the focus to the summary of problems.
(function () {
  "use strict";

  function valueOf(form, name) {
    var field = form.elements.namedItem(name);
    return field ? (field.value || "").trim() : "";
  }

  // An item applies while its controlling item holds one of the values. An item that does
  // not apply is hidden, unless it holds a value: then it stays, asking to remove it.
  function branch(form) {
    form.querySelectorAll("[data-show-if]").forEach(function (field) {
      var values = field.getAttribute("data-show-values").split(" ");
      var applies = values.indexOf(valueOf(form, field.getAttribute("data-show-if"))) >= 0;
      var input = field.querySelector("input, select, textarea");
      var holds = input && input.value.trim() !== "";
      field.hidden = !applies && !holds;
      var notice = field.querySelector(".na-notice");
      if (notice) { notice.hidden = applies || !holds; }
    });
    form.querySelectorAll("fieldset.item-group").forEach(function (group) {
      var fields = group.querySelectorAll(".field");
      group.hidden = fields.length > 0 && Array.prototype.every.call(fields, function (f) {
        return f.hidden;
      });
    });
  }

  // The reason is asked when a saved (non-blank) value changes or is removed.
  function reason(form) {
    var box = form.querySelector("#reason-fields");
    if (!box) { return; }
    var changed = Array.prototype.some.call(form.querySelectorAll("[data-saved]"), function (i) {
      return i.value.trim() !== i.getAttribute("data-saved");
    });
    box.hidden = !changed && !box.classList.contains("has-error");
  }

  // What is typed is kept in this tab (sessionStorage) until the form is saved: when the
  // session ends before the save, the page offers it back after signing in again.
  var DRAFT = "edc-draft:" + location.pathname + location.search;
  var SKIP = { csrf_token: 1, version: 1 };

  function typed(form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && !SKIP[el.name] && el.type !== "hidden" && el.type !== "password" &&
          el.type !== "submit" && el.type !== "button") {
        values[el.name] = el.value;
      }
    });
    return values;
  }

  function keep(form) {
    try {
      sessionStorage.setItem(DRAFT, JSON.stringify({ at: new Date().toISOString(),
                                                    values: typed(form) }));
    } catch (e) { /* storage full or disabled: the page still works */ }
  }

  function offer(form, update) {
    var draft = null;
    try { draft = JSON.parse(sessionStorage.getItem(DRAFT) || "null"); } catch (e) { draft = null; }
    if (!draft || !draft.values) { return; }
    var now = typed(form);
    var differs = Object.keys(draft.values).some(function (k) {
      return k in now && now[k] !== draft.values[k];
    });
    if (!differs) { return; }
    var box = document.getElementById("draft-offer");
    if (!box) { return; }
    box.querySelector(".draft-at").textContent = draft.at.replace("T", " ").slice(0, 16) + " UTC";
    box.hidden = false;
    box.querySelector("[data-restore]").addEventListener("click", function () {
      Object.keys(draft.values).forEach(function (k) {
        var el = form.elements.namedItem(k);
        if (el && el.value !== undefined) { el.value = draft.values[k]; }
      });
      box.hidden = true;
      update();
      form.querySelector("input, select, textarea").focus();
    });
    box.querySelector("[data-discard]").addEventListener("click", function () {
      sessionStorage.removeItem(DRAFT);
      box.hidden = true;
    });
  }

  // the form just saved (this one, or the one before "Save and go to the next form")
  document.querySelectorAll(".saved-path").forEach(function (el) {
    sessionStorage.removeItem("edc-draft:" + el.getAttribute("data-path"));
  });

  document.querySelectorAll("form.crf").forEach(function (form) {
    var dirty = false;
    function update() { dirty = true; branch(form); reason(form); keep(form); }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty && !window.edcSessionEnding) { event.preventDefault(); event.returnValue = ""; }
    });
    offer(form, update);
    branch(form);
    reason(form);
  });

  var summary = document.querySelector(".error-summary.is-refused");
  if (summary) { summary.focus(); }
})();

// The session ends after a time without activity: warn two minutes before, with "Stay signed
// in"; when it ends anyway, go to the sign-in page, which returns here (the typed values are
// kept in the tab and offered back).
(function () {
  "use strict";
  var body = document.body;
  var idle = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  var box = document.getElementById("timeout-warning");
  if (!idle || !box) { return; }
  var warnBefore = Math.min(120, idle / 2);
  var left = box.querySelector(".timeout-left");
  var deadline = 0, warnTimer = null, tick = null;

  function end() {
    window.edcSessionEnding = true;
    window.location.assign(body.getAttribute("data-login-url"));
  }

  function schedule() {
    deadline = Date.now() + idle * 1000 + 2000;  // the server's clock decides; go just after
    box.hidden = true;
    clearTimeout(warnTimer);
    clearInterval(tick);
    warnTimer = setTimeout(warn, (idle - warnBefore) * 1000);
  }

  function warn() {
    box.hidden = false;
    document.getElementById("stay-signed-in").focus();
    tick = setInterval(function () {
      var s = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      left.textContent = s > 60 ? Math.ceil(s / 60) + " minutes" : s + " seconds";
      if (s <= 0) { clearInterval(tick); end(); }
    }, 1000);
  }

  document.getElementById("stay-signed-in").addEventListener("click", function () {
    fetch(body.getAttribute("data-alive-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": body.getAttribute("data-csrf") }
    }).then(function (r) { if (r.ok) { schedule(); } else { end(); } }, end);
  });
  schedule();
})();
