// The app shell: who is signed in, which screen shows, and what is forgotten on
// sign-out. Screens render from fresh API answers; nothing of one user's journal
// outlives their session in this page.

import { api, whenSessionLost } from './api.js';
import { focusHeading, h } from './dom.js';
import * as signin from './signin.js';
import * as journal from './journal.js';
import * as history from './history.js';
import * as week from './week.js';
import * as account from './account.js';

const SCREENS = {
  '/signin': signin,
  '/journal': journal,
  '/history': history,
  '/week': week.weekScreen,
  '/months': week.monthsScreen,
  '/account': account,
};

const SIGNED_OUT_NOTICE = 'serene.notice';
const main = document.getElementById('main');
const nav = document.getElementById('nav');
let user = null;
let generation = 0;
// Aborted when the screen changes: a screen's requests in flight stop with it.
let screenRequests = new AbortController();

const app = {
  get user() { return user; },
  navigate(path) { show(path, { push: true }); },
  async signedIn() {
    user = await api('GET', '/api/auth/me');
    show('/journal', { push: false });
  },
  /** Resolves only if the server ended the session; else throws for the screen to say. */
  async signOut() {
    await api('POST', '/api/auth/logout');
    forget();
    sessionStorage.setItem(SIGNED_OUT_NOTICE, 'You are signed out.');
    // A fresh document: nothing the old one held in memory survives.
    window.location.replace('/signin');
  },
  accountDeleted() {
    forget();
    sessionStorage.setItem(SIGNED_OUT_NOTICE, 'Your account and every entry are deleted.');
    window.location.replace('/signin');
  },
  notice() {
    const text = sessionStorage.getItem(SIGNED_OUT_NOTICE);
    sessionStorage.removeItem(SIGNED_OUT_NOTICE);
    return text;
  },
};

/** Drops everything the page holds of the user: screen, drafts, memory. */
function forget() {
  user = null;
  generation += 1;
  screenRequests.abort();
  main.replaceChildren();
  nav.hidden = true;
  sessionStorage.clear();
}

function sessionLost() {
  if (!user) return;
  user = null;
  generation += 1;
  screenRequests.abort();
  main.replaceChildren();
  nav.hidden = true;
  // The journal's draft stays in sessionStorage, so an unsaved note survives signing in again.
  sessionStorage.setItem(SIGNED_OUT_NOTICE, 'Your session has ended. Please sign in again; your unsaved note is kept.');
  show('/signin', { push: false });
}

function show(requested, { push }) {
  let path = requested;
  if (!user) path = '/signin';
  else if (path === '/' || path === '/signin' || !SCREENS[path]) path = '/journal';
  if (path !== window.location.pathname) {
    if (push && path === requested) window.history.pushState(null, '', path);
    else window.history.replaceState(null, '', path);
  }
  const screen = SCREENS[path];
  generation += 1;
  const mine = generation;
  screenRequests.abort();
  screenRequests = new AbortController();
  nav.hidden = !user;
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === path) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${screen.title} · Serene`;
  const root = h('div', { class: 'screen' });
  main.replaceChildren(root);
  // A screen checks `isCurrent()` before drawing late answers, so a slow request
  // never paints over the screen that replaced it (or over a signed-out page).
  screen.render(root, {
    ...app,
    signal: screenRequests.signal,
    isCurrent: () => mine === generation && user !== null,
  });
  focusHeading(root);
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.hasAttribute('download')) return;
  const url = new URL(link.href, window.location.href);
  if (url.origin !== window.location.origin || !SCREENS[url.pathname]) return;
  // In-page links (the skip link) are the browser's to follow, not a new screen.
  if (url.hash && url.pathname === window.location.pathname) return;
  event.preventDefault();
  app.navigate(url.pathname);
});

window.addEventListener('popstate', () => show(window.location.pathname, { push: false }));

// A page restored from the back-forward cache may hold a signed-out user's
// screen; start it afresh from the server instead.
window.addEventListener('pageshow', (event) => {
  if (event.persisted) window.location.reload();
});

async function start() {
  try {
    // Answers 200 whether or not anyone is signed in: a visitor is not an error.
    user = (await api('GET', '/api/auth/session')).user;
  } catch {
    user = null;
  }
  whenSessionLost(sessionLost);
  show(window.location.pathname, { push: false });
}

start();
