// The one way the app talks to the server: same-origin fetch with the session
// cookie (httpOnly, so scripts never see it), JSON in and out, and errors as
// sentences a person can act on.

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.error) || `The server answered ${status}.`);
    this.status = status;
    this.code = body && body.code;
    this.fields = (body && body.fields) || {};
    this.retryAfter = Number.parseInt(retryAfter || '', 10) || null;
  }
}

let onSessionLost = () => {};

/** Called when a signed-in request is refused for want of a session. */
export function whenSessionLost(handler) {
  onSessionLost = handler;
}

async function send(method, path, body, signal) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, { error: 'Serene could not be reached. Check your connection and try again.' });
  }
}

async function failure(response, path) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = new ApiError(response.status, body, response.headers.get('Retry-After'));
  const isSignIn = path === '/api/auth/login' || path === '/api/auth/register';
  if (response.status === 401 && error.code === 'UNAUTHENTICATED' && !isSignIn) {
    onSessionLost();
  }
  return error;
}

/** A JSON request; resolves to the parsed body (`null` for 204). */
export async function api(method, path, body, signal) {
  const response = await send(method, path, body, signal);
  if (!response.ok) throw await failure(response, path);
  if (response.status === 204) return null;
  return response.json();
}

/**
 * The vibe check as server-sent events over a POST (EventSource cannot POST).
 * `subject` is `{note, mood}` or `{entry_id}`; `signal` stops listening (for a
 * saved entry the server still finishes and stores the reply). Calls
 * `onDelta(text)` per piece and resolves to the final `done` object.
 */
export async function streamVibeCheck(subject, signal, onDelta) {
  const response = await send('POST', '/api/ai/vibe-check/stream', subject, signal);
  if (!response.ok) throw await failure(response, '/api/ai/vibe-check/stream');
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let done = null;
  for (;;) {
    const { value, done: ended } = await reader.read();
    if (value) buffer += decoder.decode(value, { stream: true });
    buffer = buffer.replace(/\r\n/g, '\n');
    let boundary = buffer.indexOf('\n\n');
    while (boundary >= 0) {
      const message = parseEvent(buffer.slice(0, boundary));
      buffer = buffer.slice(boundary + 2);
      if (message.event === 'delta' && message.data) onDelta(message.data.text || '');
      if (message.event === 'done') done = message.data;
      boundary = buffer.indexOf('\n\n');
    }
    if (ended) break;
  }
  if (!done) throw new ApiError(0, { error: 'The reply was cut off.' });
  return done;
}

function parseEvent(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  try {
    return { event, data: data.length ? JSON.parse(data.join('\n')) : null };
  } catch {
    return { event, data: null };
  }
}

/** Words for a wait in seconds: "about 3 minutes". */
export function waitWords(seconds) {
  if (!seconds) return 'a little while';
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `about ${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/** A sentence for an error, with the wait of a 429 in words. */
export function describe(error) {
  if (!(error instanceof ApiError)) return 'Something went wrong. Please try again.';
  switch (error.status) {
    case 0: return error.message;
    case 401: return error.code === 'INVALID_CREDENTIALS'
      ? 'That email and password do not match an account.'
      : 'Your session has ended. Please sign in again.';
    case 403: return 'This request was refused because it did not come from Serene itself.';
    case 404: return 'That entry no longer exists.';
    case 409: return 'An account with this email already exists. Try signing in instead.';
    case 413: return 'That is too long to save.';
    case 422: return 'Please check the highlighted fields.';
    case 429: return `Too many attempts. Please wait ${waitWords(error.retryAfter)} and try again.`;
    default: return 'Serene had a problem on its side. Please try again in a moment.';
  }
}
