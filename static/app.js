// Every page: register the service worker that keeps the app shell for offline use.
if ("serviceWorker" in navigator) {
  addEventListener("load", () => navigator.serviceWorker.register("/sw.js"));
}
// The offline page (shown by the worker at the address that failed): reload it as soon as the
// network is back. Here rather than inline, which the Content-Security-Policy forbids.
if (document.querySelector("[data-offline-page]")) {
  addEventListener("online", () => location.reload());
}
