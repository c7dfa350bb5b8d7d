// Light progressive enhancement only: every page works without this file.
document.documentElement.dataset.enhanced = "yes";
// Asks before a form marked data-confirm is sent (closing a job, removing a partner).
document.addEventListener("submit", (event) => {
  const text = event.target.getAttribute("data-confirm");
  if (text && !window.confirm(text)) event.preventDefault();
});
