// Styles that only make sense with scripts (live badges, polling notes) key on this class.
document.documentElement.classList.replace("no-js", "js");

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

// Polling happens only while someone can see the page, and a wall-screen refresh never
// throws away rows that a person loaded with "Load more".
document.addEventListener("htmx:beforeRequest", (event) => {
  const elt = event.detail.elt;
  if (!elt.hasAttribute("data-poll")) return;
  if (document.hidden) {
    event.preventDefault();
    return;
  }
  const status = document.getElementById("listing-status");
  if (elt.hasAttribute("data-refresh") && status && Number(status.dataset.loaded) > Number(status.dataset.pageSize)) {
    event.preventDefault();
  }
});

// Polls and rows refill the status counts out of band; a count that has not changed stays,
// so that a link someone is on keeps its focus and nothing is read out again.
document.addEventListener("htmx:oobBeforeSwap", (event) => {
  const { target, fragment } = event.detail;
  const incoming = fragment.firstElementChild;
  if (target.classList.contains("count-slot") && incoming && incoming.innerHTML === target.innerHTML) {
    event.detail.shouldSwap = false;
  }
});
