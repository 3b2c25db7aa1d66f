// Sign in or create an account. The API's answers (wrong password, taken email,
// field rules, the wait after too many attempts) are said next to the form.

import { api, describe } from './api.js';
import { add, field, h, uid } from './dom.js';

export const title = 'Sign in';

export function render(root, app) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, maxlength: 254 });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, minlength: 8 });
  const emailError = h('p', { class: 'field-error', id: uid('email-error') });
  const passwordError = h('p', { class: 'field-error', id: uid('password-error') });
  const message = h('p', { class: 'form-error', role: 'alert' });
  const signInButton = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const createButton = h('button', { type: 'button' }, 'Create account');
  const notice = app.notice();

  const form = h('form', { class: 'card narrow', novalidate: true },
    field('Email', email),
    emailError,
    field('Password', password, h('p', { class: 'hint' }, 'At least 8 characters.')),
    passwordError,
    message,
    h('div', { class: 'actions' }, signInButton, createButton));

  let busy = false;
  async function submit(path, success) {
    if (busy) return;
    busy = true;
    for (const button of [signInButton, createButton]) button.disabled = true;
    message.textContent = '';
    showFieldErrors({});
    try {
      await api('POST', path, { email: email.value, password: password.value });
      password.value = '';
      await success();
    } catch (error) {
      message.textContent = describe(error);
      if (error.status === 422) showFieldErrors(error.fields);
    } finally {
      busy = false;
      for (const button of [signInButton, createButton]) button.disabled = false;
    }
  }

  function showFieldErrors(fields) {
    for (const [input, output, name] of [[email, emailError, 'email'], [password, passwordError, 'password']]) {
      const text = fields[name] ? `${name === 'email' ? 'Email' : 'Password'} ${fields[name]}.` : '';
      output.textContent = text;
      if (text) {
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-errormessage', output.id);
      } else {
        input.removeAttribute('aria-invalid');
        input.removeAttribute('aria-errormessage');
      }
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit('/api/auth/login', () => app.signedIn());
  });
  createButton.addEventListener('click', () => {
    submit('/api/auth/register', () => app.signedIn());
  });

  add(root, 
    h('h1', {}, 'Welcome to Serene'),
    h('p', { class: 'lede' }, 'A private place for how your days feel. Sign in, or create an account with your email.'),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    form,
  );
}
