// Toasts: stacked bottom-right, dismissed after a few seconds (paused while hovered).
import { $, h } from './ui.js';

const LIFETIME_MS = 4000;
const MAX_SHOWN = 4;
const LABEL = { toast: 'Notice', activity: 'Activity', alert: 'Alert', system: 'System', transient: 'Notice' };

const region = $('toasts');

function dismiss(node) {
  if (node.dataset.leaving) return;
  node.dataset.leaving = 'true';
  clearTimeout(node._timer);
  node.classList.add('leaving');
  setTimeout(() => node.remove(), 180);
}

function arm(node, ms) {
  clearTimeout(node._timer);
  node._timer = setTimeout(() => dismiss(node), ms);
}

/** Shows `{kind, title, body?}` as a toast. */
export function showToast({ kind = 'toast', title, body }) {
  const node = h('div', 'toast');
  node.dataset.testid = 'toast';
  node.dataset.kind = kind;
  node.setAttribute('role', kind === 'alert' ? 'alert' : 'status');

  const text = h('div', 'toast-text');
  text.append(h('span', 'toast-kind', LABEL[kind] ?? kind));
  text.append(h('strong', 'toast-title', title));
  if (body) text.append(h('span', 'toast-body', body));

  const close = h('button', 'toast-close', '×');
  close.type = 'button';
  close.setAttribute('aria-label', 'Dismiss');
  close.addEventListener('click', () => dismiss(node));

  node.append(h('span', 'toast-bar'), text, close);
  node.addEventListener('mouseenter', () => clearTimeout(node._timer));
  node.addEventListener('mouseleave', () => arm(node, 1500));
  region.append(node);
  arm(node, LIFETIME_MS);

  const shown = [...region.children].filter((n) => !n.dataset.leaving);
  shown.slice(0, Math.max(0, shown.length - MAX_SHOWN)).forEach(dismiss);
}

export function clearToasts() {
  region.replaceChildren();
}
