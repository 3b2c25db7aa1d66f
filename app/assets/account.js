// The account: exports, a new password, sign-out, and deleting everything.

import { api, describe } from './api.js';
import { add, announce, field, formatDate, h, replace, uid } from './dom.js';

export const title = 'Account';

/** A card titled by its own heading. */
function section(title, attrs, ...children) {
  const id = uid('section');
  return h('section', { ...attrs, 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

export function render(root, app) {
  const exports = h('ul', { class: 'links' },
    [['json', 'Export JSON'], ['csv', 'Export CSV'], ['markdown', 'Export Markdown']].map(([format, label]) =>
      h('li', {}, h('a', { href: `/api/export?format=${format}`, download: true }, label))));

  const current = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
  const passwordMessage = h('p', { class: 'form-error', role: 'alert' });
  const passwordHeading = uid('password');
  const passwordForm = h('form', { class: 'card', novalidate: true, 'aria-labelledby': passwordHeading },
    h('h2', { id: passwordHeading }, 'Change password'),
    field('Current password', current),
    field('New password', next, h('p', { class: 'hint' }, 'At least 8 characters. Your other devices will be signed out.')),
    passwordMessage,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')));
  const changeButton = passwordForm.querySelector('button[type=submit]');
  passwordForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (changeButton.disabled) return;
    changeButton.disabled = true;
    passwordMessage.textContent = '';
    try {
      await api('POST', '/api/auth/password', { current_password: current.value, new_password: next.value });
      passwordForm.reset();
      passwordMessage.textContent = 'Password changed. Other sessions are signed out.';
      announce('Password changed.');
    } catch (error) {
      passwordMessage.textContent = error.status === 422 && error.fields.new_password
        ? `New password ${error.fields.new_password}.`
        : (error.code === 'INVALID_CREDENTIALS' ? 'The current password is not right.' : describe(error));
    } finally {
      changeButton.disabled = false;
    }
  });

  const deleteArea = h('div', {});
  const startDelete = h('button', { type: 'button', class: 'danger' }, 'Delete account');
  startDelete.addEventListener('click', () => {
    const password = h('input', { type: 'password', autocomplete: 'current-password', required: true });
    const message = h('p', { class: 'form-error', role: 'alert' });
    const confirm = h('button', { type: 'submit', class: 'danger' }, 'Delete my account forever');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const form = h('form', { class: 'confirm', novalidate: true, 'aria-label': 'Delete account' },
      h('p', { class: 'warning' }, 'This deletes your account and every entry in it, for good. It cannot be undone. Export your journal first if you want to keep it.'),
      field('Password', password), message, h('div', { class: 'actions' }, confirm, cancel));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      confirm.disabled = true;
      try {
        await api('DELETE', '/api/auth/me', { password: password.value });
        app.accountDeleted();
      } catch (error) {
        confirm.disabled = false;
        message.textContent = error.code === 'INVALID_CREDENTIALS' ? 'That password is not right; nothing was deleted.' : describe(error);
      }
    });
    cancel.addEventListener('click', () => { replace(deleteArea, startDelete); startDelete.focus(); });
    replace(deleteArea, form);
    password.focus();
  });
  add(deleteArea, startDelete);

  const signOut = h('button', { type: 'button' }, 'Sign out');
  const signOutMessage = h('p', { class: 'form-error', role: 'alert' });
  signOut.addEventListener('click', async () => {
    signOut.disabled = true;
    signOutMessage.textContent = '';
    try {
      await app.signOut();
    } catch (error) {
      signOut.disabled = false;
      signOutMessage.textContent = `You are still signed in: ${describe(error)}`;
    }
  });

  add(root, 
    h('h1', {}, 'Account'),
    h('p', {}, 'Signed in as ', h('strong', {}, app.user.email), `, writing since ${formatDate(app.user.created_at, { dateStyle: 'long' })}.`),
    section('Export your journal', { class: 'card' }, exports),
    passwordForm,
    section('Sign out', { class: 'card' }, signOut, signOutMessage),
    section('Delete account', { class: 'card danger-zone' }, deleteArea));
}
