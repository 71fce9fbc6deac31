// The pusherable debug console: watches one app's stream of entries and sends events
// through the server's event creator.
//
// The app id and its secret (or console token) stay in this page's memory and travel only
// in an Authorization header, never in a URL. Everything shown comes from clients and the
// app, so it is written as text, never as HTML.

'use strict';

(() => {
  const PREFIX = document.body.dataset.prefix;
  /** Rows kept on the page; older ones go, so that a busy app never grows the page. */
  const MAX_ROWS = 1000;
  const RETRY_MIN_MS = 500;
  const RETRY_MAX_MS = 10_000;

  const $ = (id) => document.getElementById(id);
  const rows = $('log').tBodies[0];

  const LABELS = {
    connection_opened: 'Connection opened',
    connection_closed: 'Connection closed',
    subscribed: 'Subscribed',
    unsubscribed: 'Unsubscribed',
    channel_occupied: 'Channel occupied',
    channel_vacated: 'Channel vacated',
    member_added: 'Member added',
    member_removed: 'Member removed',
    api_event: 'API event',
    client_event: 'Client event',
    missed: 'Missed',
  };

  /** The app being watched: { appId, token, abort, retryMs, timer }, or null. */
  let watching = null;

  function setStatus(state, text) {
    const status = $('status');
    status.dataset.state = state;
    status.textContent = text;
  }

  function appUrl(appId, rest) {
    return `${PREFIX}/console/apps/${encodeURIComponent(appId)}/${rest}`;
  }

  function headers(session, extra = {}) {
    return { Authorization: `Bearer ${session.token}`, ...extra };
  }

  /**
   * Opens the stream for `session`. Resolves to 'live', 'refused' (401) or an error message;
   * once live, entries are read in the background until the stream ends.
   */
  async function connect(session) {
    session.abort = new AbortController();
    let response;
    try {
      response = await fetch(appUrl(session.appId, 'stream'), {
        headers: headers(session, { Accept: 'text/event-stream' }),
        cache: 'no-store',
        signal: session.abort.signal,
      });
    } catch (err) {
      return `The server could not be reached (${err.message})`;
    }
    if (response.status === 401) return 'refused';
    if (!response.ok) return `The server answered ${response.status}`;
    read(session, response.body);
    return 'live';
  }

  async function read(session, body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // Aborted, or the connection broke: either way the stream is over.
    }
    if (watching === session && !session.abort.signal.aborted) retry(session);
  }

  /** One server-sent event: its `data:` lines hold one entry. */
  function dispatch(block) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
      .join('\n');
    if (!data) return;
    let entry;
    try {
      entry = JSON.parse(data);
    } catch {
      return;
    }
    show(entry);
  }

  function retry(session) {
    setStatus('reconnecting', `Reconnecting to app ${session.appId}…`);
    session.timer = setTimeout(async () => {
      if (watching !== session) return;
      const result = await connect(session);
      if (watching !== session) return;
      if (result === 'live') {
        session.retryMs = RETRY_MIN_MS;
        setStatus('live', `Watching app ${session.appId}`);
      } else if (result === 'refused') {
        stop('The credentials no longer open this app.');
      } else {
        session.retryMs = Math.min(session.retryMs * 2, RETRY_MAX_MS);
        retry(session);
      }
    }, session.retryMs);
  }

  function stop(message = '') {
    if (watching) {
      watching.abort?.abort();
      clearTimeout(watching.timer);
    }
    watching = null;
    $('console').hidden = true;
    $('login').hidden = false;
    $('login').elements.token.value = '';
    $('login-error').textContent = message;
    setStatus('closed', 'Not watching');
  }

  $('login').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const session = {
      appId: form.elements.app_id.value.trim(),
      token: form.elements.token.value,
      retryMs: RETRY_MIN_MS,
    };
    stop();
    watching = session;
    setStatus('connecting', `Opening app ${session.appId}…`);
    const result = await connect(session);
    if (watching !== session) return;
    if (result !== 'live') {
      stop(result === 'refused' ? 'Wrong app id or credentials.' : result);
      return;
    }
    form.elements.token.value = '';
    $('app-id').textContent = session.appId;
    $('login').hidden = true;
    $('console').hidden = false;
    setStatus('live', `Watching app ${session.appId}`);
  });

  $('logout').addEventListener('click', () => stop());
  $('clear').addEventListener('click', () => rows.replaceChildren());

  function cell(row, text) {
    const td = row.insertCell();
    td.textContent = text ?? '';
    return td;
  }

  function time(ms) {
    const d = new Date(ms);
    const two = (n) => String(n).padStart(2, '0');
    return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  }

  /** JSON text pretty-printed; anything else as it came. */
  function pretty(text) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  }

  function show(entry) {
    const row = document.createElement('tr');
    row.dataset.type = entry.type;
    for (const key of ['channel', 'event', 'socket_id', 'user_id']) {
      if (entry[key] != null) row.dataset[key.replace('_id', 'Id')] = entry[key];
    }
    if (entry.remote) row.dataset.remote = 'true';
    cell(row, time(entry.time_ms));
    const what = cell(row, LABELS[entry.type] ?? entry.type);
    if (entry.remote) {
      const badge = document.createElement('span');
      badge.className = 'remote';
      badge.title = 'On another node of the cluster';
      badge.textContent = 'other node';
      what.append(badge);
    }
    cell(row, entry.channel);
    cell(row, entry.event);
    cell(row, entry.socket_id);
    cell(row, entry.user_id);
    const data = cell(row, '');
    if (entry.type === 'missed') {
      data.textContent = `${entry.missed} entries skipped: this page fell behind`;
    } else if (entry.data != null) {
      const pre = document.createElement('pre');
      pre.textContent = pretty(entry.data);
      data.append(pre);
    }
    row.hidden = !matches(row);
    rows.prepend(row);
    while (rows.rows.length > MAX_ROWS) rows.lastElementChild.remove();
  }

  /** Whether a row passes the filters: a filter leaves out rows without what it names. */
  function matches(row) {
    const channel = $('filter-channel').value.trim();
    const event = $('filter-event').value.trim();
    if (channel && !(row.dataset.channel ?? '').includes(channel)) return false;
    if (event && !(row.dataset.event ?? '').includes(event)) return false;
    return true;
  }

  function refilter() {
    for (const row of rows.rows) row.hidden = !matches(row);
  }
  $('filter-channel').addEventListener('input', refilter);
  $('filter-event').addEventListener('input', refilter);

  $('creator').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const result = $('creator-result');
    const say = (ok, text) => {
      result.dataset.ok = String(ok);
      result.textContent = text;
    };
    const session = watching;
    if (!session) return;
    const data = form.elements.data.value;
    try {
      JSON.parse(data);
    } catch (err) {
      say(false, `Data is not valid JSON: ${err.message}`);
      return;
    }
    const body = { name: form.elements.event.value.trim(), channel: form.elements.channel.value.trim(), data };
    let response;
    try {
      response = await fetch(appUrl(session.appId, 'events'), {
        method: 'POST',
        headers: headers(session, { 'Content-Type': 'application/json' }),
        body: JSON.stringify(body),
      });
    } catch (err) {
      say(false, `The server could not be reached (${err.message})`);
      return;
    }
    if (response.ok) {
      say(true, `Sent ${body.name} to ${body.channel}`);
      return;
    }
    const answer = await response.json().catch(() => ({}));
    say(false, `${response.status}: ${answer.error ?? response.statusText}`);
    if (response.status === 401) stop('The credentials no longer open this app.');
  });
})();
