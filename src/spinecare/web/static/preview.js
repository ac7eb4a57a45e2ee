// Live preview of the assessment while the visit form is filled in. Progressive enhancement:
// the form posts and works without this script.
(function () {
  "use strict";
  var form = document.getElementById("visit-form");
  var out = document.getElementById("preview");
  if (!form || !out || !window.fetch) { return; }
  var timer = null;
  var seq = 0;
  function update() {
    var mine = ++seq;
    fetch(form.getAttribute("data-preview"), {
      method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) { return r.json(); }).then(function (data) {
      if (mine !== seq) { return; }
      if (data.ok) {
        out.innerHTML = data.html;
      } else if (data.problems) {
        out.textContent = "";
        var p = document.createElement("p");
        p.textContent = "Not assessed yet: " + data.problems.map(function (x) {
          return x.path + " " + x.message; }).join("; ");
        out.appendChild(p);
      }
    }).catch(function () { /* the preview is a convenience; saving still works */ });
  }
  function later() { clearTimeout(timer); timer = setTimeout(update, 300); }
  form.addEventListener("change", later);
  form.addEventListener("input", later);
  update();
})();
