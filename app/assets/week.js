// Mood counts drawn as inline SVG, each chart beside a data table for screen
// readers: the current ISO week, and the last twelve months, in the browser's zone.

import { api, describe } from './api.js';
import { add, h, replace, s, uid } from './dom.js';

const zone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

function isoDate(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The ISO week (`2026-W48`) holding a local date, and that week's Monday. */
export function isoWeek(date) {
  const day = new Date(date.getFullYear(), date.getMonth(), date.getDate());
  const weekday = (day.getDay() + 6) % 7;
  const monday = new Date(day.getFullYear(), day.getMonth(), day.getDate() - weekday);
  const thursday = new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + 3);
  const year = thursday.getFullYear();
  const firstThursday = new Date(year, 0, 4);
  const firstMonday = new Date(year, 0, 4 - ((firstThursday.getDay() + 6) % 7));
  const week = 1 + Math.round((monday - firstMonday) / (7 * 24 * 3600 * 1000));
  return { label: `${year}-W${String(week).padStart(2, '0')}`, monday };
}

/** A horizontal bar chart of `[label, count]` rows, hidden from screen readers (the table says it). */
function barChart(rows) {
  const width = 320;
  const rowHeight = 28;
  const labelWidth = 96;
  const max = Math.max(1, ...rows.map(([, count]) => count));
  const height = rows.length * rowHeight;
  return s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, 'aria-hidden': 'true', focusable: 'false' },
    rows.map(([label, count], i) => {
      const y = i * rowHeight;
      const barWidth = Math.max(2, ((width - labelWidth - 32) * count) / max);
      return s('g', {},
        s('text', { x: 0, y: y + 18, class: 'chart-label' }, label.length > 12 ? `${label.slice(0, 11)}…` : label),
        s('rect', { x: labelWidth, y: y + 5, width: barWidth, height: rowHeight - 10, rx: 4, class: 'bar' }),
        s('text', { x: labelWidth + barWidth + 6, y: y + 18, class: 'chart-value' }, String(count)));
    }));
}

function countTable(caption, headers, rows) {
  return h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, headers.map((text) => h('th', { scope: 'col' }, text)))),
    h('tbody', {}, rows.map(([first, ...rest]) => h('tr', {}, h('th', { scope: 'row' }, first), rest.map((cell) => h('td', {}, String(cell)))))));
}

function sortedCounts(counts) {
  return Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export const weekScreen = {
  title: 'Week',
  render(root, app) {
    const headingId = uid('week');
    const range = h('p', { class: 'quiet' });
    const body = h('div', { class: 'chart-pair' });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const previous = h('button', { type: 'button' }, 'Previous week');
    const next = h('button', { type: 'button' }, 'Next week');
    let monday = isoWeek(new Date()).monday;
    let latest = 0;

    async function load() {
      const mine = ++latest;
      const week = isoWeek(monday);
      const sunday = new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + 6);
      const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
      range.textContent = `${week.label}: ${fmt.format(monday)} to ${fmt.format(sunday)}`;
      // aria-disabled, not disabled: the button keeps focus when it reaches this week.
      next.setAttribute('aria-disabled', String(isoWeek(new Date()).label === week.label));
      error.textContent = '';
      try {
        const params = new URLSearchParams({ tz: zone(), week: week.label });
        const counts = await api('GET', `/api/analytics/weekly?${params}`, undefined, app.signal);
        if (mine !== latest || !app.isCurrent()) return;
        const rows = sortedCounts(counts);
        replace(body, ...(rows.length
          ? [barChart(rows), countTable('Entries by mood this week', ['Mood', 'Entries'], rows)]
          : [h('p', {}, 'No entries this week.')]));
      } catch (failure) {
        if (mine === latest && app.isCurrent()) error.textContent = describe(failure);
      }
    }
    const move = (days) => {
      monday = new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + days);
      load();
    };
    previous.addEventListener('click', () => move(-7));
    next.addEventListener('click', () => {
      if (next.getAttribute('aria-disabled') !== 'true') move(7);
    });

    add(root, 
      h('h1', {}, 'Week'),
      h('section', { class: 'card', 'aria-labelledby': headingId },
        h('h2', { id: headingId }, 'This week'), range, error, body,
        h('div', { class: 'actions' }, previous, next)));
    load();
  },
};

export const monthsScreen = {
  title: 'Months',
  render(root, app) {
    const headingId = uid('months');
    const body = h('div', { class: 'chart-pair' });
    const error = h('p', { class: 'form-error', role: 'alert' });
    add(root, 
      h('h1', {}, 'Months'),
      h('section', { class: 'card', 'aria-labelledby': headingId },
        h('h2', { id: headingId }, 'The last twelve months'), error, body));

    const today = new Date();
    const first = new Date(today.getFullYear(), today.getMonth() - 11, 1);
    const params = new URLSearchParams({ from: isoDate(first), to: isoDate(today), bucket: 'month', tz: zone() });
    api('GET', `/api/analytics/moods?${params}`).then((answer) => {
      if (!app.isCurrent()) return;
      const monthName = new Intl.DateTimeFormat(undefined, { month: 'short', year: 'numeric' });
      const rows = answer.buckets.map((bucket) => {
        const [year, month] = bucket.start.split('-').map(Number);
        const counts = sortedCounts(bucket.counts);
        const total = counts.reduce((sum, [, n]) => sum + n, 0);
        const moods = counts.map(([mood, n]) => `${mood} ${n}`).join(', ') || 'none';
        return [monthName.format(new Date(year, month - 1, 1)), total, moods];
      });
      replace(body, 
        barChart(rows.map(([label, total]) => [label, total])),
        countTable('Entries per month, with their moods', ['Month', 'Entries', 'Moods'], rows));
    }).catch((failure) => {
      if (app.isCurrent()) error.textContent = describe(failure);
    });
  },
};
