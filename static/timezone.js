// A new sequence's time zone starts as the browser's own: the server cannot know it, and
// UTC is rarely where a team works. Only a fresh form is set (never one sent back with errors).
document.addEventListener("DOMContentLoaded", function () {
  var select = document.querySelector("select[data-browser-timezone]");
  var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!select || !zone) return;
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) { select.value = zone; return; }
  }
});
