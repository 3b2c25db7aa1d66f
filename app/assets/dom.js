// Every piece of user data reaches the page as a text node: notes, tags, moods,
// emails and AI replies are never parsed as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Replaces an element's children; `null`, `undefined` and `false` are skipped. */
export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

/** Adds children at the end; `null`, `undefined` and `false` are skipped. */
export function add(element, ...children) {
  return append(element, children);
}

/** An HTML element: `h('p', {class: 'x'}, 'text', child)`. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, for charts drawn inline. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

let nextId = 0;
/** A document-unique id for label and description links. */
export function uid(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** Moves focus to a screen's heading so keyboard and screen-reader users land there. */
export function focusHeading(root) {
  const heading = root.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: false });
  }
}

/** Says something to screen-reader users without moving focus. */
export function announce(text) {
  const region = document.getElementById('announce');
  if (region) {
    region.textContent = '';
    window.setTimeout(() => { region.textContent = text; }, 50);
  }
}

/** A labelled form field; returns the wrapper and the control. */
export function field(label, control, hint) {
  const id = control.id || uid('field');
  control.id = id;
  const parts = [h('label', { for: id }, label), control];
  if (hint) {
    hint.id = hint.id || uid('hint');
    control.setAttribute('aria-describedby', hint.id);
    parts.push(hint);
  }
  return h('div', { class: 'field' }, parts);
}

export function formatDate(iso, options) {
  return new Intl.DateTimeFormat(undefined, options || { dateStyle: 'medium', timeStyle: 'short' })
    .format(new Date(iso));
}

export function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}
