// "Copy link" on every share box ([data-share]): the public award page, and the wallet (which
// imports this file from earner.js). Pages work without it (the link is shown in a read-only
// field); data comes from data- attributes, no inline scripts.

for (const share of document.querySelectorAll('[data-share]')) {
  const button = share.querySelector('[data-copy]');
  const input = share.querySelector('[data-copy-source]');
  const said = share.querySelector('[data-copy-state]');
  if (!button || !input || !said) continue;
  button.hidden = false;
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      said.textContent = 'Link copied.';
    } catch {
      // No clipboard (plain http, an old browser): select it for the person to copy.
      input.focus();
      input.select();
      said.textContent = 'The link is selected: copy it with your device’s Copy command.';
    }
  });
}
