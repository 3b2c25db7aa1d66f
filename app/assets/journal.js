// Today's entry: a mood, tags, a note, then the vibe check streamed in word by
// word. The unsaved entry lives in sessionStorage until it is saved or the user
// signs out, so an expired session never costs a note.

import { api, describe, streamVibeCheck, waitWords } from './api.js';
import { add, announce, field, h, replace, uid } from './dom.js';

export const title = 'Journal';
export const MOODS = ['Happy', 'Calm', 'Grateful', 'Tired', 'Anxious', 'Sad', 'Angry', 'Stressed'];
export const MIN_NOTE = 50;
const MAX_NOTE = 10000;
const DRAFT = 'serene.draft';
export const DISCLAIMER = "If you're feeling unsafe or overwhelmed, please consider reaching out to someone you trust or a local support service.";

/** Tags as the API will keep them: trimmed, no empties, duplicates (any case) once. */
export function parseTags(text) {
  const seen = new Set();
  const tags = [];
  for (const raw of text.split(',')) {
    const tag = raw.trim();
    if (tag && !seen.has(tag.toLowerCase())) {
      seen.add(tag.toLowerCase());
      tags.push(tag);
    }
  }
  return tags;
}

export function characters(text) {
  return [...text.trim()].length;
}

export function tagChips(tags) {
  if (!tags.length) return null;
  return h('ul', { class: 'chips', 'aria-label': 'Tags' }, tags.map((tag) => h('li', { class: 'chip' }, tag)));
}

/** The stored or streamed reply in its place: the disclaimer in its own calm style. */
export function replyView(text) {
  if (!text) return null;
  const isDisclaimer = text === DISCLAIMER;
  return h('p', { class: isDisclaimer ? 'reply guardrail' : 'reply' }, text);
}

function readDraft(userId) {
  try {
    const draft = JSON.parse(sessionStorage.getItem(DRAFT) || 'null');
    return draft && draft.user === userId ? draft : null;
  } catch {
    return null;
  }
}

export function render(root, app) {
  const groupLabel = uid('mood-label');
  const moodName = uid('mood');
  const radios = MOODS.map((mood) => h('input', { type: 'radio', name: moodName, value: mood.toLowerCase() }));
  const otherRadio = h('input', { type: 'radio', name: moodName, value: '' });
  const otherText = h('input', { type: 'text', maxlength: 32, 'aria-label': 'Your own mood', hidden: true });
  const moodError = h('p', { class: 'field-error', id: uid('mood-error') });
  const moodGroup = h('fieldset', { class: 'moods', role: 'radiogroup', 'aria-labelledby': groupLabel, 'aria-describedby': moodError.id },
    h('legend', { id: groupLabel }, 'Mood'),
    h('div', { class: 'mood-options' },
      radios.map((radio, i) => h('label', { class: 'mood-option' }, radio, ` ${MOODS[i]}`)),
      h('label', { class: 'mood-option' }, otherRadio, ' Other')),
    otherText,
    moodError);

  const tags = h('input', { type: 'text', autocomplete: 'off', placeholder: 'work, sleep, family' });
  const chips = h('div', { class: 'chip-row', 'aria-live': 'off' });
  const note = h('textarea', { rows: 8, maxlength: MAX_NOTE, required: true });
  const counter = h('p', { class: 'hint' });
  const noteError = h('p', { class: 'field-error', id: uid('note-error') });
  const message = h('p', { class: 'form-error', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save entry');
  const vibeHeading = uid('vibe-heading');
  const vibeText = h('div', { class: 'vibe-text' });
  // Present from the start, so assistive technology knows the live region before
  // it changes; busy while the reply streams, so it is read once, when whole.
  const vibe = h('section', { class: 'vibe', 'aria-labelledby': vibeHeading, 'aria-live': 'polite' },
    h('h2', { id: vibeHeading }, 'Vibe check'), vibeText);
  add(vibeText, h('p', { class: 'quiet placeholder' }, 'After you save, a short reply to your entry appears here.'));

  const form = h('form', { class: 'card', novalidate: true },
    moodGroup,
    field('Tags', tags, h('p', { class: 'hint' }, 'Separate tags with commas.')),
    chips,
    field('Note', note, counter),
    noteError,
    message,
    h('div', { class: 'actions' }, save));

  function chosenMood() {
    if (otherRadio.checked) return otherText.value.trim();
    const checked = radios.find((radio) => radio.checked);
    return checked ? checked.value : '';
  }

  function refresh() {
    otherText.hidden = !otherRadio.checked;
    replace(chips, tagChips(parseTags(tags.value)) || '');
    const needed = MIN_NOTE - characters(note.value);
    counter.textContent = needed > 0
      ? `${needed} more character${needed === 1 ? '' : 's'} needed (at least ${MIN_NOTE}).`
      : 'Long enough to save.';
    sessionStorage.setItem(DRAFT, JSON.stringify({
      user: app.user.id, mood: chosenMood(), other: otherRadio.checked, tags: tags.value, note: note.value,
    }));
  }

  const draft = readDraft(app.user.id);
  if (draft) {
    const radio = radios.find((r) => r.value === draft.mood);
    if (radio && !draft.other) radio.checked = true;
    else if (draft.mood || draft.other) { otherRadio.checked = true; otherText.value = draft.mood; }
    tags.value = draft.tags || '';
    note.value = draft.note || '';
  }

  function showErrors(fields) {
    moodError.textContent = fields.mood ? `Mood ${fields.mood}.` : '';
    noteError.textContent = fields.note ? `Note ${fields.note}.` : '';
    message.textContent = fields.tags ? `Tags ${fields.tags}.` : message.textContent;
    for (const [control, name, output] of [[note, 'note', noteError], [moodGroup, 'mood', moodError]]) {
      if (fields[name]) {
        control.setAttribute('aria-invalid', 'true');
        control.setAttribute('aria-errormessage', output.id);
      } else {
        control.removeAttribute('aria-invalid');
        control.removeAttribute('aria-errormessage');
      }
    }
    const problems = [fields.mood && `Mood ${fields.mood}.`, fields.note && `Note ${fields.note}.`].filter(Boolean);
    if (problems.length) message.textContent = problems.join(' ');
  }

  let saving = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (saving) return;
    message.textContent = '';
    const entry = { mood: chosenMood(), tags: parseTags(tags.value), note: note.value };
    const local = {};
    if (!entry.mood) local.mood = 'is required: choose one or write your own';
    if (characters(entry.note) < MIN_NOTE) local.note = `must be at least ${MIN_NOTE} characters`;
    showErrors(local);
    if (Object.keys(local).length) {
      (local.mood ? radios[0] : note).focus();
      return;
    }
    saving = true;
    save.disabled = true;
    try {
      // Saved at once; the one vibe check streams next and is stored with the entry.
      const saved = await api('POST', '/api/entries?vibe_check=deferred', entry);
      // The draft is this save's, whatever screen shows now: never offer it again.
      sessionStorage.removeItem(DRAFT);
      if (!app.isCurrent()) return;
      form.reset();
      refresh();
      sessionStorage.removeItem(DRAFT);
      announce('Entry saved.');
      message.textContent = '';
      await showVibe(saved);
    } catch (error) {
      if (!app.isCurrent()) return;
      message.textContent = describe(error);
      if (error.status === 422) showErrors(error.fields);
    } finally {
      saving = false;
      save.disabled = false;
    }
  });

  async function showVibe(saved) {
    vibe.setAttribute('aria-busy', 'true');
    const calm = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    vibe.scrollIntoView({ block: 'nearest', behavior: calm ? 'auto' : 'smooth' });
    const line = h('p', { class: 'reply streaming' });
    replace(vibeText, h('p', { class: 'quiet' }, 'Entry saved. Listening…'), line);
    let streamed = '';
    try {
      const done = await streamVibeCheck({ entry_id: saved.id }, app.signal, (text) => {
        streamed += text;
        line.textContent = streamed;
      });
      if (!app.isCurrent()) return;
      replace(vibeText, ...vibeResult(done));
    } catch (error) {
      if (!app.isCurrent()) return;
      const why = error.status === 429
        ? `Vibe checks are paused for ${waitWords(error.retryAfter)}. Your entry is saved.`
        : 'The reply could not be made right now. Your entry is saved.';
      replace(vibeText, h('p', { class: 'quiet' }, why));
    } finally {
      vibe.removeAttribute('aria-busy');
    }
  }

  for (const control of [...radios, otherRadio, otherText, tags, note]) {
    control.addEventListener('input', refresh);
  }
  refresh();

  add(root, 
    h('h1', {}, 'How are you today?'),
    form,
    vibe,
  );
}

/** What a `done` event says, in words. */
export function vibeResult(done) {
  switch (done.status) {
    case 'ok':
      return [replyView(done.response)];
    case 'guardrail':
      return [replyView(done.response || DISCLAIMER)];
    case 'skipped':
      return [h('p', { class: 'quiet' }, 'No vibe check this time: the note needs a few more real words. Your entry is saved.')];
    default:
      return [h('p', { class: 'quiet' }, 'The reply could not be made right now. Your entry is saved.')];
  }
}
