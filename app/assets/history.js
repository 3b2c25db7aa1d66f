// Every entry, newest first, a page at a time; search by words, tag, mood and
// dates; edit and delete in place.

import { api, describe } from './api.js';
import { add, announce, field, formatDate, h, replace, uid } from './dom.js';
import { MIN_NOTE, characters, parseTags, replyView, tagChips } from './journal.js';

export const title = 'History';
export const PAGE_SIZE = 20;

/** A local calendar day as the instant it starts, for `from`/`to`. */
function localDayStart(value, dayOffset) {
  const [year, month, day] = value.split('-').map(Number);
  return new Date(year, month - 1, day + dayOffset);
}

export function render(root, app) {
  const q = h('input', { type: 'search', maxlength: 200, autocomplete: 'off' });
  const tag = h('input', { type: 'text', maxlength: 32, autocomplete: 'off', list: uid('tag-list') });
  const tagList = h('datalist', { id: tag.getAttribute('list') });
  const mood = h('input', { type: 'text', maxlength: 32, autocomplete: 'off' });
  const from = h('input', { type: 'date' });
  const to = h('input', { type: 'date' });
  const filterError = h('p', { class: 'form-error', role: 'alert' });
  const filters = h('form', { class: 'card filters', role: 'search', 'aria-label': 'Find entries' },
    field('Search', q),
    h('div', { class: 'row' }, field('Tag', tag), field('Mood', mood)),
    h('div', { class: 'row' }, field('From', from), field('To', to)),
    tagList,
    filterError,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply filters'),
      h('button', { type: 'reset' }, 'Clear filters')));

  const list = h('div', { class: 'entries' });
  const status = h('p', { class: 'quiet', role: 'status' });
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  let cursor = null;
  let query = new URLSearchParams();
  let loading = false;
  // Each load has a number; only the newest may draw, so a filter applied while
  // a page is loading replaces that page instead of being dropped or mixed in.
  let latest = 0;

  function currentQuery() {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (q.value.trim()) params.set('q', q.value.trim());
    if (tag.value.trim()) params.set('tag', tag.value.trim());
    if (mood.value.trim()) params.set('mood', mood.value.trim());
    if (from.value) params.set('from', localDayStart(from.value, 0).toISOString());
    if (to.value) params.set('to', new Date(localDayStart(to.value, 1).getTime() - 1).toISOString());
    return params;
  }

  async function load(reset) {
    if (loading && !reset) return;
    loading = true;
    const mine = ++latest;
    more.disabled = true;
    filterError.textContent = '';
    try {
      const params = new URLSearchParams(query);
      if (!reset && cursor) params.set('cursor', cursor);
      const page = await api('GET', `/api/entries?${params}`, undefined, app.signal);
      if (mine !== latest || !app.isCurrent()) return;
      if (reset) replace(list);
      const firstNew = page.entries.length ? list.children.length : -1;
      for (const entry of page.entries) add(list, entryView(entry));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      const shown = list.children.length;
      status.textContent = shown
        ? `Showing ${shown} entr${shown === 1 ? 'y' : 'ies'}${cursor ? '; there are more.' : '.'}`
        : (query.toString() === `limit=${PAGE_SIZE}` ? 'No entries yet. Your first one starts on the Journal page.' : 'No entries match these filters.');
      if (!reset && firstNew >= 0) {
        const heading = list.children[firstNew].querySelector('h2');
        heading.setAttribute('tabindex', '-1');
        heading.focus();
      }
    } catch (error) {
      if (mine !== latest || !app.isCurrent()) return;
      filterError.textContent = error.status === 422
        ? Object.entries(error.fields).map(([name, text]) => `${name}: ${text}`).join('; ') || describe(error)
        : describe(error);
    } finally {
      if (mine === latest) {
        loading = false;
        more.disabled = false;
      }
    }
  }

  function entryView(entry) {
    const headingId = uid('entry');
    const article = h('article', { class: 'entry card', 'aria-labelledby': headingId });
    const show = (current) => {
      const edit = h('button', { type: 'button' }, 'Edit');
      const remove = h('button', { type: 'button', class: 'danger' }, 'Delete');
      replace(article, 
        h('header', {},
          h('h2', { id: headingId, class: 'mood', tabindex: '-1' }, current.mood),
          h('time', { datetime: current.created_at }, formatDate(current.created_at))),
        tagChips(current.tags),
        h('p', { class: 'note' }, current.note),
        replyView(current.ai_response),
        h('div', { class: 'actions' }, edit, remove));
      edit.addEventListener('click', () => editForm(current));
      remove.addEventListener('click', () => confirmDelete(current, remove));
    };

    const editForm = (current) => {
      const moodInput = h('input', { type: 'text', maxlength: 32, required: true, value: current.mood });
      const tagsInput = h('input', { type: 'text', value: current.tags.join(', ') });
      const noteInput = h('textarea', { rows: 6, maxlength: 10000, required: true });
      noteInput.value = current.note;
      const error = h('p', { class: 'form-error', role: 'alert' });
      const saveButton = h('button', { type: 'submit', class: 'primary' }, 'Save changes');
      const cancel = h('button', { type: 'button' }, 'Cancel');
      const form = h('form', { class: 'edit', novalidate: true, 'aria-labelledby': headingId },
        h('h2', { id: headingId }, `Edit entry from ${formatDate(current.created_at)}`),
        field('Mood', moodInput), field('Tags', tagsInput), field('Note', noteInput), error,
        h('div', { class: 'actions' }, saveButton, cancel));
      let busy = false;
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        if (busy) return;
        if (characters(noteInput.value) < MIN_NOTE) {
          error.textContent = `The note needs at least ${MIN_NOTE} characters.`;
          noteInput.focus();
          return;
        }
        const changes = {};
        if (moodInput.value.trim().toLowerCase() !== current.mood) changes.mood = moodInput.value;
        const newTags = parseTags(tagsInput.value);
        if (newTags.join('\u0000') !== current.tags.join('\u0000')) changes.tags = newTags;
        if (noteInput.value !== current.note) changes.note = noteInput.value;
        if (!Object.keys(changes).length) { show(current); article.querySelector('h2').focus(); return; }
        busy = true;
        saveButton.disabled = true;
        try {
          const updated = await api('PUT', `/api/entries/${encodeURIComponent(current.id)}`, changes);
          if (!app.isCurrent()) return;
          show(updated);
          announce('Entry updated.');
          article.querySelector('h2').focus();
        } catch (failure) {
          error.textContent = failure.status === 422
            ? Object.entries(failure.fields).map(([name, text]) => `${name[0].toUpperCase()}${name.slice(1)} ${text}.`).join(' ')
            : describe(failure);
        } finally {
          busy = false;
          saveButton.disabled = false;
        }
      });
      cancel.addEventListener('click', () => { show(current); article.querySelector('.actions button').focus(); });
      replace(article, form);
      moodInput.focus();
    };

    const confirmDelete = (current, trigger) => {
      const yes = h('button', { type: 'button', class: 'danger' }, 'Delete entry');
      const no = h('button', { type: 'button' }, 'Keep it');
      const error = h('p', { class: 'form-error', role: 'alert' });
      const box = h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm delete' },
        h('p', {}, 'Delete this entry? This cannot be undone.'), error, h('div', { class: 'actions' }, yes, no));
      trigger.closest('.actions').replaceWith(box);
      no.addEventListener('click', () => { show(current); article.querySelector('.actions button').focus(); });
      yes.addEventListener('click', async () => {
        yes.disabled = true;
        try {
          await api('DELETE', `/api/entries/${encodeURIComponent(current.id)}`);
          if (!app.isCurrent()) return;
          article.remove();
          announce('Entry deleted.');
          status.textContent = `Entry deleted. Showing ${list.children.length} entr${list.children.length === 1 ? 'y' : 'ies'}.`;
          status.focus();
        } catch (failure) {
          yes.disabled = false;
          error.textContent = describe(failure);
        }
      });
      yes.focus();
    };

    show(entry);
    return article;
  }

  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    query = currentQuery();
    cursor = null;
    load(true);
  });
  filters.addEventListener('reset', () => {
    window.setTimeout(() => { query = currentQuery(); cursor = null; load(true); }, 0);
  });
  more.addEventListener('click', () => load(false));
  status.setAttribute('tabindex', '-1');

  add(root, h('h1', {}, 'History'), filters, status, list, more);
  query = currentQuery();
  load(true);
  api('GET', '/api/tags').then((answer) => {
    if (!app.isCurrent()) return;
    replace(tagList, ...answer.tags.map((t) => h('option', { value: t.tag })));
  }).catch(() => {});
}
