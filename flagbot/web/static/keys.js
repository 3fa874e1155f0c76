// Reviewer wellbeing: flagged text stays blurred until the reviewer asks to see it.
document.addEventListener("click", (event) => {
  if (event.target.id === "show-text") {
    document.getElementById("text")?.classList.remove("blurred");
    event.target.remove();
  }
});
// Keyboard shortcuts: on a flag, c/f/h/o decide; in the queue, j/k move and Enter opens.
document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, select, textarea") || event.ctrlKey || event.metaKey || event.altKey) {
    return;
  }
  const button = document.querySelector(`button[data-key="${event.key}"]`);
  if (button) {
    button.click();
    return;
  }
  const rows = Array.from(document.querySelectorAll("#queue tbody tr[data-href]"));
  if (!rows.length) return;
  let current = rows.findIndex((row) => row.classList.contains("selected"));
  if (event.key === "j" || event.key === "k") {
    if (current >= 0) rows[current].classList.remove("selected");
    current = event.key === "j" ? Math.min(current + 1, rows.length - 1) : Math.max(current - 1, 0);
    rows[current].classList.add("selected");
  } else if (event.key === "Enter" && current >= 0) {
    window.location = rows[current].dataset.href;
  }
});
