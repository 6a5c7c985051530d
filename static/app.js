// Every page: register the service worker that keeps the app shell for offline use.
if ("serviceWorker" in navigator) {
  addEventListener("load", () => navigator.serviceWorker.register("/sw.js"));
}
