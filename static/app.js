// Keyboard shortcut: "/" focuses the search box, as on most listing sites.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  const search = document.querySelector("[data-shortcut='/']");
  if (search) {
    event.preventDefault();
    search.focus();
    search.select();
  }
});

// Live summaries poll only while someone can see them.
document.addEventListener("htmx:beforeRequest", (event) => {
  if (document.hidden && event.detail.elt.hasAttribute("data-poll")) event.preventDefault();
});
