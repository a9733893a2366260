/* Copy buttons: <button data-copy="ID" hidden> copies the value (or text) of the element
   with that id. The buttons stay hidden without this script: the field beside them is
   read-only and can still be selected and copied by hand. The page's
   <p class="copy-status" role="status"> announces the copy to screen readers. */
(function () {
  "use strict";
  var status = document.querySelector(".copy-status");

  function announce(text) {
    if (status) status.textContent = text;
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-HTTP pages (make run) have no Clipboard API: copy from a selection instead.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var done = document.execCommand("copy");
      document.body.removeChild(area);
      if (done) resolve(); else reject(new Error("copy refused"));
    });
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) return;
    var label = Array.prototype.map.call(button.childNodes,
                                         function (node) { return node.cloneNode(true); });
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = "value" in target ? target.value : target.textContent;
      copy(text).then(function () {
        button.textContent = "Copied";
        announce("Copied to the clipboard.");
        window.setTimeout(function () { button.replaceChildren.apply(button, label); }, 2000);
      }, function () {
        if (target.select) target.select();
        announce("Copying failed: the text is selected, copy it with the keyboard.");
      });
    });
  });
})();
