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

  document.querySelectorAll("form.crf").forEach(function (form) {
    var dirty = false;
    function update() { dirty = true; branch(form); reason(form); }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty) { event.preventDefault(); event.returnValue = ""; }
    });
    branch(form);
    reason(form);
  });

  var summary = document.querySelector(".error-summary.is-refused");
  if (summary) { summary.focus(); }
})();
