// Small DOM helpers shared by the demo's modules. User text only ever goes through textContent.

export const $ = (id) => document.getElementById(id);

/** A new element with an optional class and text (set as textContent, never parsed). */
export function h(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = String(text);
  return node;
}

function hue(name) {
  let x = 0;
  for (const ch of name) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return x % 360;
}

/** Fills an avatar circle with a name's initial and a colour derived from the name. */
export function paintAvatar(node, name) {
  node.textContent = (Array.from(String(name).trim())[0] || '?').toUpperCase();
  node.style.setProperty('--hue', hue(String(name)));
}

export function avatar(name, className = 'avatar') {
  const node = h('span', className);
  node.setAttribute('aria-hidden', 'true');
  paintAvatar(node, name);
  return node;
}

const relFmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });
const dateFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

/** "just now", "3 min. ago", "2 hr. ago", "yesterday", then a date. */
export function relativeTime(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((now - t) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return relFmt.format(-Math.round(s / 60), 'minute');
  if (s < 86400) return relFmt.format(-Math.round(s / 3600), 'hour');
  if (s < 7 * 86400) return relFmt.format(-Math.round(s / 86400), 'day');
  return dateFmt.format(t);
}

// ---------------------------------------------------------------- popovers (one open at a time)

let open = null; // {button, panel}

export function closePopover() {
  if (!open) return;
  open.panel.hidden = true;
  open.button.setAttribute('aria-expanded', 'false');
  open = null;
}

/** Makes `button` toggle `panel`; outside clicks and Escape close it. */
export function popover(button, panel, onOpen) {
  button.addEventListener('click', (e) => {
    e.stopPropagation();
    const wasOpen = open?.panel === panel;
    closePopover();
    if (wasOpen) return;
    panel.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    open = { button, panel };
    onOpen?.();
  });
}

document.addEventListener('click', (e) => {
  // composedPath is fixed at dispatch: a click on a list item re-rendered meanwhile still counts.
  if (open && !e.composedPath().includes(open.panel)) closePopover();
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && open) {
    const { button } = open;
    closePopover();
    button.focus();
  }
});
