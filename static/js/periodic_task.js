/* The operator console's periodic task form: the crontab's help says in words when the
   chosen schedule runs, from the table the page carries in
   <script id="readable-crontabs" type="application/json">. django-celery-beat does this
   with an inline script, which the Content-Security-Policy refuses. */
(function () {
  "use strict";
  var readable = JSON.parse(document.getElementById("readable-crontabs").textContent);
  var select = document.getElementById("id_crontab");
  var help = document.querySelector(".field-crontab .help");
  var translation = document.querySelector(".field-crontab_translation");
  // Setting a style property from a script file is allowed; a style attribute is not.
  if (translation) translation.style.display = "none";
  if (!select || !help) return;
  var original = help.textContent;
  select.addEventListener("change", function () {
    var words = readable[select.value];
    help.textContent = words ? original + " Translation: " + words : original;
  });
})();
