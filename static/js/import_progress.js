/* An import's page follows its task: every second it reads the progress as JSON from the
   URL in data-progress-url and updates the bar and the [data-field] counts; once the import
   has finished it reloads the page, which then lists the rows that were not imported.
   Without this script, <noscript>'s refresh does the same, a page at a time. */
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box) return;
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("progress");

  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (progress) {
        if (bar) {
          bar.value = progress.percent;
          bar.textContent = progress.percent + "%";
        }
        box.querySelectorAll("[data-field]").forEach(function (field) {
          var value = progress[field.getAttribute("data-field")];
          if (value !== undefined) field.textContent = String(value);
        });
        if (progress.finished) window.location.reload();
        else window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
})();
