// A sequence's emails reordered by dragging one by its handle (⠿) onto another: dropped on
// the top half of a card it goes before it, on the bottom half after it. The drop presses
// the card's own move form with the place it was dropped at (`to`), so the server's one rule
// for moving (models/sequences.py move_step) decides, and htmx swaps the emails back in.
// Without scripts the handles stay hidden: the Up / Down buttons do the same, by keyboard too.
(function () {
  let dragged = null;

  const cards = () => [...document.querySelectorAll("#steps article.step")];

  function clearMarks() {
    document.querySelectorAll(".drop-before, .drop-after").forEach((card) => {
      card.classList.remove("drop-before", "drop-after");
    });
  }

  function after(card, event) {
    const box = card.getBoundingClientRect();
    return event.clientY > box.top + box.height / 2;
  }

  document.addEventListener("dragstart", (event) => {
    const handle = event.target.closest && event.target.closest(".step-drag");
    if (!handle) return;
    dragged = handle.closest("article.step");
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.id);  // Firefox starts no drag without data
    event.dataTransfer.setDragImage(dragged, 20, 20);
  });

  document.addEventListener("dragover", (event) => {
    const card = dragged && event.target.closest && event.target.closest("#steps article.step");
    if (!card) return;
    event.preventDefault();  // this card takes the drop
    event.dataTransfer.dropEffect = "move";
    clearMarks();
    if (card !== dragged) card.classList.add(after(card, event) ? "drop-after" : "drop-before");
  });

  document.addEventListener("drop", (event) => {
    const card = dragged && event.target.closest && event.target.closest("#steps article.step");
    if (!card) return;
    event.preventDefault();
    const all = cards();
    const from = all.indexOf(dragged);
    let place = all.indexOf(card) + (after(card, event) ? 1 : 0);
    if (from < place) place -= 1;  // the cards below the dragged one move up by one
    const form = dragged.querySelector("form.step-move");
    if (card === dragged || place === from || !form) return;
    let to = form.querySelector("input[name=to]");
    if (!to) {
      to = document.createElement("input");
      to.type = "hidden";
      to.name = "to";
      form.appendChild(to);
    }
    to.value = String(place + 1);
    form.requestSubmit();
  });

  document.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    clearMarks();
  });

  // Handles show only where this script runs; after htmx swaps the emails in, again.
  const ready = () => document.querySelectorAll("#steps .step-drag").forEach((h) => { h.hidden = false; });
  document.addEventListener("DOMContentLoaded", ready);
  document.addEventListener("htmx:afterSettle", ready);
})();
