// The contacts page: one box in the table's head ticks every contact on the page, and shows
// whether some, all or none are ticked. Without scripts it stays hidden; each row has its own.
(function () {
  function sync(table) {
    const head = table.querySelector("[data-pick-page]");
    const boxes = [...table.querySelectorAll("input[name=contact]")];
    const ticked = boxes.filter((b) => b.checked).length;
    head.hidden = false;
    head.checked = ticked > 0 && ticked === boxes.length;
    head.indeterminate = ticked > 0 && ticked < boxes.length;
  }
  document.addEventListener("change", (event) => {
    const table = event.target.closest("table.contacts");
    if (!table) return;
    if (event.target.matches("[data-pick-page]")) {
      table.querySelectorAll("input[name=contact]").forEach((b) => { b.checked = event.target.checked; });
    }
    sync(table);
  });
  const ready = () => document.querySelectorAll("table.contacts").forEach(sync);
  document.addEventListener("DOMContentLoaded", ready);
  document.addEventListener("htmx:afterSettle", ready);
})();
