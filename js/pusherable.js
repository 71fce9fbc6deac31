/*! pusherable.js: real-time notices for pages of a pusherable app. Served by the app itself. */
/*
 * One connection per page for every subscription on it. For each event on a subscribed
 * channel it calls the page's global `pusherable_notify(event, data, channel)` and the
 * callbacks given to `pusherable.on(event, callback)`; when the page has neither, it shows a
 * notice of its own. It keeps `pusherable_presence` lists filled with who else is here.
 *
 * Settings come from the data attributes of its own <script> tag, written by the server:
 * data-key, data-host, data-port, data-tls, data-path, data-auth-endpoint,
 * data-user-auth-endpoint, data-client ("pusherable" or "pusher-js").
 *
 * Subscriptions come from <template data-pusherable-channel data-pusherable-events> elements,
 * found when the page is parsed and whenever more are added, or from pusherable.subscribe().
 * When the last element of a channel leaves the page, the page leaves the channel (unless
 * pusherable.subscribe() asked for it too); an element put back subscribes again. Each such
 * element, and each presence list, gets data-pusherable-state: pending, subscribed, denied
 * (the app said 403) or error. <html> gets data-pusherable-connection.
 *
 * What concerns the page rather than a channel goes to pusherable.on(name, callback) and to a
 * DOM event of the same name on document, never to pusherable_notify (whose contract is an
 * object's events): 'pusherable:signin' and 'pusherable:signin_error' after
 * pusherable.signin(), 'pusherable:watchlist' when users the signed-in user follows come or
 * go, and 'pusherable:reconnected' when the connection is back after a loss, so that the page
 * can check what it missed. <html> gets data-pusherable-signin once sign-in is asked for.
 */
(function () {
  'use strict';

  if (window.pusherable && window.pusherable.version) {
    return;
  }

  var VERSION = '0.1.0';
  var PONG_TIMEOUT_MS = 30000;
  var ACTIVITY_TIMEOUT_MS = 120000;
  var BACKOFF_MAX_MS = 30000;
  /**
   * After a reconnect, how long 'pusherable:reconnected' waits at most for the subscriptions to
   * be back: it says what was missed, so it should come once events flow again, but an auth
   * request that hangs must not keep it back for good.
   */
  var SETTLE_MAX_MS = 10000;

  var tag = document.currentScript || document.querySelector('script[data-pusherable]');
  var ds = (tag && tag.dataset) || {};
  var pageTls = location.protocol === 'https:';
  var config = {
    key: ds.key || '',
    host: ds.host || location.hostname,
    tls: ds.tls === 'true' ? true : ds.tls === 'false' ? false : pageTls,
    port: ds.port ? Number(ds.port) : null,
    path: ds.path || '',
    authEndpoint: ds.authEndpoint || '/pusherable/auth',
    userAuthEndpoint: ds.userAuthEndpoint || '/pusherable/user-auth',
    client: ds.client || 'pusherable'
  };
  if (config.port === null) {
    config.port = location.port && !ds.host ? Number(location.port) : (config.tls ? 443 : 80);
  }

  // ---- subscriptions, callbacks, presence -------------------------------------------------

  /**
   * channel name -> {name, all, events: Set, state, members: Map(id -> info), me, api}.
   * `all` and `events` are what the page's elements and pusherable.subscribe() ask for
   * together; `api` ({all, events}, or null) is the part pusherable.subscribe() asked for,
   * which the removal of elements never takes away.
   */
  var subscriptions = new Map();
  /** event name ('*' for all) -> [callback] */
  var callbacks = new Map();
  /** [{channel, callback}] */
  var memberCallbacks = [];
  var desktop = false;

  function isPresence(name) {
    return name.indexOf('presence-') === 0;
  }

  function needsAuth(name) {
    return name.indexOf('private-') === 0 || isPresence(name);
  }

  function subscribe(channel, events, fromApi) {
    if (typeof channel !== 'string' || !channel) {
      return;
    }
    var sub = subscriptions.get(channel);
    var fresh = !sub;
    if (fresh) {
      sub = { name: channel, all: false, events: new Set(), state: 'pending', members: new Map(), me: null, api: null };
      subscriptions.set(channel, sub);
    }
    if (fromApi) {
      sub.api = sub.api || { all: false, events: new Set() };
      addEvents(sub.api, events);
    }
    addEvents(sub, events);
    if (fresh) {
      transport.subscribe(sub);
    }
    markState(sub);
  }

  /** events: a name, a list of names, or '*'; undefined asks for none (a presence list). */
  function addEvents(target, events) {
    if (events === '*' || events === undefined) {
      target.all = target.all || events === '*';
      return;
    }
    [].concat(events).forEach(function (e) {
      if (e === '*') {
        target.all = true;
      } else {
        target.events.add(String(e));
      }
    });
  }

  function unsubscribe(channel) {
    var sub = subscriptions.get(channel);
    if (sub) {
      subscriptions.delete(channel);
      transport.unsubscribe(sub);
      // One subscription fewer for a reconnect notice to wait for.
      checkComeback();
    }
  }

  /**
   * After elements of `channel` left or changed: leaves the channel when nothing on the page
   * asks for it any more, or narrows its events to what the rest still asks for.
   */
  function refresh(channel) {
    var sub = subscriptions.get(channel);
    if (!sub) {
      return;
    }
    var elements = elementsOf(channel);
    if (!elements.length && !sub.api) {
      unsubscribe(channel);
      return;
    }
    sub.all = !!(sub.api && sub.api.all);
    sub.events = new Set(sub.api ? sub.api.events : []);
    elements.forEach(function (el) {
      if (el.getAttribute('data-pusherable-channel') === channel) {
        addEvents(sub, eventsOf(el));
      }
    });
  }

  function setState(sub, state) {
    sub.state = state;
    markState(sub);
    checkComeback();
  }

  function markState(sub) {
    elementsOf(sub.name).forEach(function (el) {
      el.setAttribute('data-pusherable-state', sub.state);
    });
  }

  /** The subscribe elements and presence lists of `channel` that are on the page. */
  function elementsOf(channel) {
    var name = cssEscape(channel);
    return document.querySelectorAll('[data-pusherable-channel="' + name + '"],[data-pusherable-members="' + name + '"]');
  }

  function eventsOf(el) {
    var events = el.getAttribute('data-pusherable-events') || '*';
    return events === '*' ? '*' : parseData(events);
  }

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, '\\$&');
  }

  function parseData(data) {
    if (typeof data !== 'string') {
      return data;
    }
    try {
      return JSON.parse(data);
    } catch (e) {
      return data;
    }
  }

  /** django-pusherable sent the user as a string: let the user object read as its name. */
  function decorateUser(data) {
    if (data && typeof data === 'object' && data.user && typeof data.user === 'object') {
      Object.defineProperty(data.user, 'toString', {
        value: function () {
          return String(this.name || this.id || '');
        },
        enumerable: false,
        configurable: true
      });
    }
    return data;
  }

  /** `senderId`: on presence channels, the server's word for who sent a client event. */
  function deliver(channel, event, data, senderId) {
    var sub = subscriptions.get(channel);
    if (!sub || !(sub.all || sub.events.has(event))) {
      return;
    }
    data = decorateUser(parseData(data));
    var handled = false;
    if (typeof window.pusherable_notify === 'function') {
      handled = true;
      safely(function () {
        window.pusherable_notify(event, data, channel);
      });
    }
    [event, '*'].forEach(function (name) {
      (callbacks.get(name) || []).forEach(function (callback) {
        handled = true;
        safely(function () {
          var meta = { event: event, channel: channel };
          if (senderId !== undefined && senderId !== null) {
            meta.user_id = String(senderId);
          }
          callback(data, meta);
        });
      });
    });
    document.dispatchEvent(new CustomEvent('pusherable:event', {
      detail: { event: event, channel: channel, data: data }
    }));
    if (event.indexOf('client-') === 0) {
      // Whispers between pages are the app's own business: no notice of ours.
      return;
    }
    var text = describe(event, data, channel);
    if (!handled) {
      notice(text, event, data, channel);
    }
    if (desktop && document.visibilityState === 'hidden' && window.Notification) {
      safely(function () {
        new Notification(text, { tag: channel + ':' + userId(data) });
      });
    }
  }

  function safely(fn) {
    try {
      fn();
    } catch (e) {
      setTimeout(function () {
        throw e;
      });
    }
  }

  function userName(data) {
    var user = data && data.user;
    if (user && typeof user === 'object') {
      return String(user.name || user.id || 'Someone');
    }
    return user ? String(user) : 'Someone';
  }

  function userId(data) {
    var user = data && data.user;
    return user && typeof user === 'object' ? String(user.id) : String(user || '');
  }

  /** "article" from "presence-blog.article-42"; underscores read as spaces. */
  function modelOf(channel) {
    var rest = channel.replace(/^(private|presence)-/, '');
    var head = rest.split('-')[0];
    var model = head.indexOf('.') >= 0 ? head.slice(head.indexOf('.') + 1) : head;
    return model.replace(/_/g, ' ') || 'page';
  }

  var PHRASES = {
    view: 'is viewing this',
    update: 'is editing this',
    delete: 'is about to delete this',
    updated: 'saved changes to this',
    deleted: 'deleted this'
  };

  function describe(event, data, channel) {
    var who = userName(data);
    if (PHRASES.hasOwnProperty(event)) {
      return who + ' ' + PHRASES[event] + ' ' + modelOf(channel) + '.';
    }
    return who + ': ' + event + ' (' + modelOf(channel) + ')';
  }

  // ---- what concerns the page: sign-in, the watchlist, reconnects ---------------------------

  /** Tells the page about itself: pusherable.on(name) callbacks, then a DOM event on document. */
  function announce(name, detail) {
    (callbacks.get(name) || []).forEach(function (callback) {
      safely(function () {
        callback(detail, { event: name });
      });
    });
    document.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  /**
   * Sign-in, once the page asked for it: `wanted` stays true for the life of the page, so that
   * every new connection signs in again; `waiting` holds the promises of signin() calls.
   */
  var signin = { wanted: false, state: 'none', user: null, waiting: [] };
  /** watched user id -> true while online, false while offline, as the server last said */
  var watched = new Map();

  function setSignin(state) {
    signin.state = state;
    document.documentElement.setAttribute('data-pusherable-signin', state);
  }

  function requestSignin() {
    return new Promise(function (resolve, reject) {
      if (signin.state === 'signed-in') {
        resolve(signin.user);
        return;
      }
      signin.waiting.push({ resolve: resolve, reject: reject });
      if (signin.state !== 'pending') {
        signin.wanted = true;
        setSignin('pending');
        transport.signin();
      }
    });
  }

  function signedIn(userData) {
    var data = parseData(userData);
    if (!data || typeof data !== 'object' || typeof data.id !== 'string') {
      signinFailed({ message: 'the server confirmed a sign-in without a user id' });
      return;
    }
    signin.user = { id: data.id, info: data.user_info || {}, watchlist: (data.watchlist || []).map(String) };
    setSignin('signed-in');
    signin.waiting.splice(0).forEach(function (w) {
      w.resolve(signin.user);
    });
    announce('pusherable:signin', signin.user);
  }

  /** failure: {status} when the app's endpoint refused (403: nobody signed in), {code} when the server did. */
  function signinFailed(failure) {
    var detail = {
      status: failure.status === undefined ? null : failure.status,
      code: failure.code === undefined ? null : failure.code,
      message: String(failure.message || 'sign-in failed')
    };
    setSignin(detail.status === 403 ? 'denied' : 'error');
    signin.waiting.splice(0).forEach(function (w) {
      var err = new Error('pusherable: ' + detail.message);
      err.status = detail.status;
      err.code = detail.code;
      w.reject(err);
    });
    announce('pusherable:signin_error', detail);
  }

  /** events: [{name: 'online' | 'offline', user_ids: [...]}], as pusher_internal:watchlist_events has them. */
  function watchlistEvents(events) {
    var change = { online: [], offline: [] };
    (events || []).forEach(function (e) {
      if (!e || (e.name !== 'online' && e.name !== 'offline')) {
        return;
      }
      (e.user_ids || []).forEach(function (id) {
        id = String(id);
        watched.set(id, e.name === 'online');
        change[e.name].push(id);
      });
    });
    if (change.online.length || change.offline.length) {
      announce('pusherable:watchlist', change);
    }
  }

  function watchlistNow() {
    var now = { online: [], offline: [] };
    watched.forEach(function (online, id) {
      now[online ? 'online' : 'offline'].push(id);
    });
    return now;
  }

  /** When the page lost a connection it had; null while nothing is lost, or once it is told. */
  var lostAt = null;
  var everConnected = false;
  /** While a reconnect waits for its subscriptions: {offlineMs, timer}. */
  var comeback = null;

  function connectionChanged(previous, state) {
    if (state === 'connected') {
      if (everConnected && lostAt !== null) {
        comeback = {
          offlineMs: Date.now() - lostAt,
          timer: setTimeout(function () {
            reconnected();
          }, SETTLE_MAX_MS)
        };
        checkComeback();
      }
      everConnected = true;
    } else if (previous === 'connected') {
      if (lostAt === null) {
        lostAt = Date.now();
      }
      if (comeback) {
        clearTimeout(comeback.timer);
        comeback = null;
      }
      // Nothing arrives on a lost connection: every subscription waits to be made again.
      subscriptions.forEach(function (sub) {
        if (sub.state === 'subscribed') {
          setState(sub, 'pending');
        }
      });
      if (signin.state === 'signed-in') {
        setSignin('pending');
      }
    }
  }

  /** The reconnect notice goes out once no subscription is pending any more. */
  function checkComeback() {
    if (!comeback) {
      return;
    }
    var waiting = false;
    subscriptions.forEach(function (sub) {
      waiting = waiting || sub.state === 'pending';
    });
    if (!waiting) {
      reconnected();
    }
  }

  function reconnected() {
    if (!comeback) {
      return;
    }
    clearTimeout(comeback.timer);
    var channels = [];
    subscriptions.forEach(function (sub) {
      if (sub.state === 'subscribed') {
        channels.push(sub.name);
      }
    });
    var detail = { offline_ms: comeback.offlineMs, channels: channels };
    comeback = null;
    lostAt = null;
    announce('pusherable:reconnected', detail);
  }

  // ---- the default notice ------------------------------------------------------------------

  var region = null;

  function noticeRegion() {
    if (region && region.isConnected) {
      return region;
    }
    if (!document.getElementById('pusherable-style')) {
      var style = document.createElement('style');
      style.id = 'pusherable-style';
      // :where() keeps specificity at zero, so any rule of the app's own wins.
      style.textContent =
        ':where(.pusherable-notices){position:fixed;z-index:2147483000;right:1rem;bottom:1rem;' +
        'display:flex;flex-direction:column;gap:.5rem;max-width:min(28rem,calc(100vw - 2rem));' +
        'font:15px/1.4 system-ui,sans-serif}' +
        ':where(.pusherable-notice){display:flex;align-items:flex-start;gap:.75rem;padding:.75rem 1rem;' +
        'border-radius:.5rem;background:#1f2933;color:#fff;box-shadow:0 4px 16px rgba(0,0,0,.25)}' +
        ':where(.pusherable-notice p){margin:0;flex:1}' +
        ':where(.pusherable-notice button){font:inherit;color:inherit;background:transparent;' +
        'border:1px solid currentColor;border-radius:.25rem;padding:0 .5rem;cursor:pointer}' +
        ':where(.pusherable-notice button:focus-visible){outline:3px solid #ffd166;outline-offset:2px}' +
        ':where(.pusherable-members:empty){display:none}';
      document.head.appendChild(style);
    }
    region = document.createElement('div');
    region.className = 'pusherable-notices';
    region.setAttribute('role', 'status');
    region.setAttribute('aria-live', 'polite');
    region.setAttribute('aria-label', 'Activity on this page');
    document.body.appendChild(region);
    return region;
  }

  /** One notice per user and channel: a newer event replaces the older notice. */
  function notice(text, event, data, channel) {
    if (!document.body) {
      return;
    }
    var box = noticeRegion();
    var key = channel + ' ' + userId(data);
    box.querySelectorAll('.pusherable-notice').forEach(function (old) {
      if (old.getAttribute('data-key') === key) {
        old.remove();
      }
    });
    var item = document.createElement('div');
    item.className = 'pusherable-notice';
    item.setAttribute('data-key', key);
    item.setAttribute('data-event', event);
    var p = document.createElement('p');
    p.textContent = text;
    item.appendChild(p);
    if (event === 'updated') {
      item.appendChild(button('Reload', function () {
        location.reload();
      }));
    }
    item.appendChild(button('Dismiss', function () {
      item.remove();
    }));
    box.appendChild(item);
    while (box.children.length > 3) {
      box.removeChild(box.firstChild);
    }
  }

  function button(label, onClick) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = label === 'Dismiss' ? '\u00d7' : label;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', onClick);
    return b;
  }

  // ---- presence ----------------------------------------------------------------------------

  function membersOf(sub) {
    var list = [];
    sub.members.forEach(function (info, id) {
      list.push({ id: id, info: info || {}, me: id === sub.me });
    });
    return list;
  }

  function membersChanged(sub) {
    var members = membersOf(sub);
    var others = members.filter(function (m) {
      return !m.me;
    });
    var selector = '[data-pusherable-members="' + cssEscape(sub.name) + '"]';
    document.querySelectorAll(selector).forEach(function (list) {
      while (list.firstChild) {
        list.removeChild(list.firstChild);
      }
      others.forEach(function (m) {
        var li = document.createElement('li');
        li.setAttribute('data-user-id', m.id);
        li.textContent = m.info && m.info.name ? String(m.info.name) : m.id;
        list.appendChild(li);
      });
    });
    memberCallbacks.forEach(function (entry) {
      if (entry.channel === null || entry.channel === sub.name) {
        safely(function () {
          entry.callback(members, sub.name);
        });
      }
    });
  }

  function resetMembers(sub, hash, me) {
    sub.members = new Map();
    Object.keys(hash || {}).forEach(function (id) {
      sub.members.set(String(id), hash[id]);
    });
    if (me !== undefined && me !== null) {
      sub.me = String(me);
    }
    membersChanged(sub);
  }

  // ---- auth --------------------------------------------------------------------------------

  function authorize(endpoint, params) {
    var body = Object.keys(params).map(function (k) {
      return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]);
    }).join('&');
    var headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
    var csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf) {
      headers['X-CSRF-Token'] = csrf.getAttribute('content');
    }
    return fetch(endpoint, { method: 'POST', credentials: 'same-origin', headers: headers, body: body })
      .then(function (res) {
        if (!res.ok) {
          var err = new Error('authorization refused: ' + res.status);
          err.status = res.status;
          throw err;
        }
        return res.json();
      });
  }

  // ---- transport: pusherable's own protocol-7 client ---------------------------------------

  function setConnection(state) {
    var previous = api.state;
    document.documentElement.setAttribute('data-pusherable-connection', state);
    api.state = state;
    if (previous !== state) {
      connectionChanged(previous, state);
    }
  }

  function ownTransport() {
    var ws = null;
    var socketId = null;
    var attempts = 0;
    var stopped = false;
    var retryTimer = null;
    var activityTimer = null;
    var pongTimer = null;
    var activityMs = ACTIVITY_TIMEOUT_MS;

    function url() {
      return (config.tls ? 'wss' : 'ws') + '://' + config.host + ':' + config.port + config.path +
        '/app/' + encodeURIComponent(config.key) +
        '?protocol=7&client=pusherable-js&version=' + VERSION + '&flash=false';
    }

    function send(event, data, channel) {
      if (ws && ws.readyState === WebSocket.OPEN) {
        var frame = { event: event, data: data };
        if (channel) {
          frame.channel = channel;
        }
        ws.send(JSON.stringify(frame));
      }
    }

    function connect() {
      retryTimer = null;
      if (stopped || ws) {
        return;
      }
      setConnection('connecting');
      var socket;
      try {
        socket = new WebSocket(url());
      } catch (e) {
        retry(null);
        return;
      }
      ws = socket;
      socket.onmessage = function (message) {
        if (socket === ws) {
          received(message.data);
        }
      };
      socket.onclose = function (event) {
        if (socket === ws) {
          closed(event.code);
        }
      };
    }

    function received(text) {
      var frame;
      try {
        frame = JSON.parse(text);
      } catch (e) {
        return;
      }
      active();
      var event = frame.event;
      var sub = frame.channel ? subscriptions.get(frame.channel) : null;
      switch (event) {
        case 'pusher:connection_established':
          var info = parseData(frame.data) || {};
          socketId = info.socket_id;
          if (info.activity_timeout) {
            activityMs = Math.min(ACTIVITY_TIMEOUT_MS, info.activity_timeout * 1000);
          }
          attempts = 0;
          setConnection('connected');
          active();
          subscriptions.forEach(subscribeNow);
          signinNow();
          break;
        case 'pusher:ping':
          send('pusher:pong', {});
          break;
        case 'pusher:pong':
          break;
        case 'pusher:error':
          var error = parseData(frame.data) || {};
          if (error.code === 4009 && signin.state === 'pending') {
            signinFailed({ code: error.code, message: error.message });
          } else if (window.console) {
            console.warn('pusherable:', frame.data);
          }
          break;
        case 'pusher:signin_success':
          signedIn((parseData(frame.data) || {}).user_data);
          break;
        case 'pusher_internal:watchlist_events':
          watchlistEvents((parseData(frame.data) || {}).events);
          break;
        case 'pusher_internal:subscription_succeeded':
          if (sub) {
            setState(sub, 'subscribed');
            if (isPresence(sub.name)) {
              var presence = (parseData(frame.data) || {}).presence || {};
              resetMembers(sub, presence.hash);
            }
          }
          break;
        case 'pusher:subscription_error':
          if (sub) {
            setState(sub, 'error');
          }
          break;
        case 'pusher_internal:member_added':
          if (sub) {
            var added = parseData(frame.data) || {};
            sub.members.set(String(added.user_id), added.user_info);
            membersChanged(sub);
          }
          break;
        case 'pusher_internal:member_removed':
          if (sub) {
            sub.members.delete(String((parseData(frame.data) || {}).user_id));
            membersChanged(sub);
          }
          break;
        default:
          if (frame.channel && event && event.indexOf('pusher') !== 0) {
            deliver(frame.channel, event, frame.data, frame.user_id);
          }
      }
    }

    /** Any message counts as activity; after a silence, ping, and give up if nothing comes. */
    function active() {
      clearTimeout(activityTimer);
      clearTimeout(pongTimer);
      activityTimer = setTimeout(function () {
        send('pusher:ping', {});
        pongTimer = setTimeout(function () {
          if (ws) {
            ws.close();
          }
        }, PONG_TIMEOUT_MS);
      }, activityMs);
    }

    function closed(code) {
      ws = null;
      socketId = null;
      clearTimeout(activityTimer);
      clearTimeout(pongTimer);
      if (code === 4000) {
        config.tls = true;
        retry(0);
      } else if ((code >= 4001 && code <= 4099) || code >= 4300) {
        // The server refused this client for good (unknown app, over quota…): stay down.
        stopped = true;
        setConnection('failed');
      } else if (code >= 4200 && code <= 4299) {
        retry(0);
      } else {
        retry(code >= 4100 && code <= 4199 ? 1000 : null);
      }
    }

    /** Exponential back-off with jitter, from about 1 s to 30 s. */
    function retry(atLeast) {
      if (stopped || retryTimer) {
        return;
      }
      setConnection('disconnected');
      var base = Math.min(BACKOFF_MAX_MS, 1000 * Math.pow(2, attempts));
      var delay = attempts === 0 && atLeast === 0 ? 0 : base / 2 + Math.random() * base / 2;
      if (atLeast) {
        delay = Math.max(delay, atLeast);
      }
      attempts += 1;
      retryTimer = setTimeout(connect, delay);
    }

    function subscribeNow(sub) {
      if (!socketId) {
        return;
      }
      var asked = socketId;
      if (!needsAuth(sub.name)) {
        send('pusher:subscribe', { auth: '', channel: sub.name });
        return;
      }
      setState(sub, 'pending');
      authorize(config.authEndpoint, { socket_id: asked, channel_name: sub.name })
        .then(function (auth) {
          if (asked !== socketId || subscriptions.get(sub.name) !== sub) {
            return;
          }
          var data = { auth: auth.auth, channel: sub.name };
          if (auth.channel_data) {
            data.channel_data = auth.channel_data;
            sub.me = String((parseData(auth.channel_data) || {}).user_id);
          }
          send('pusher:subscribe', data);
        }, function (err) {
          if (subscriptions.get(sub.name) === sub) {
            setState(sub, err.status === 403 ? 'denied' : 'error');
          }
        });
    }

    /** Signs this connection in, if the page asked for it. */
    function signinNow() {
      if (!socketId || !signin.wanted) {
        return;
      }
      var asked = socketId;
      setSignin('pending');
      authorize(config.userAuthEndpoint, { socket_id: asked })
        .then(function (auth) {
          if (asked === socketId) {
            send('pusher:signin', { auth: auth.auth, user_data: auth.user_data });
          }
        }, function (err) {
          if (asked === socketId) {
            signinFailed({ status: err.status, message: err.message });
          }
        });
    }

    window.addEventListener('online', function () {
      if (!ws && !stopped) {
        clearTimeout(retryTimer);
        retryTimer = null;
        attempts = 0;
        connect();
      }
    });

    return {
      start: connect,
      subscribe: subscribeNow,
      unsubscribe: function (sub) {
        send('pusher:unsubscribe', { channel: sub.name });
      },
      signin: signinNow,
      trigger: function (channel, event, data) {
        if (!ws || ws.readyState !== WebSocket.OPEN) {
          return false;
        }
        send(event, data, channel);
        return true;
      },
      socketId: function () {
        return socketId;
      }
    };
  }

  // ---- transport: the official pusher-js ---------------------------------------------------

  function pusherJsTransport() {
    var pusher = null;

    function start() {
      if (typeof window.Pusher !== 'function') {
        if (window.console) {
          console.error('pusherable: data-client="pusher-js" but pusher-js is not loaded');
        }
        setConnection('failed');
        return;
      }
      var csrf = document.querySelector('meta[name="csrf-token"]');
      var headers = csrf ? { 'X-CSRF-Token': csrf.getAttribute('content') } : {};
      pusher = new window.Pusher(config.key, {
        cluster: 'mt1',
        wsHost: config.host,
        wsPort: config.port,
        wssPort: config.port,
        wsPath: config.path,
        forceTLS: config.tls,
        enabledTransports: ['ws', 'wss'],
        channelAuthorization: { endpoint: config.authEndpoint, transport: 'ajax', headers: headers },
        userAuthentication: { endpoint: config.userAuthEndpoint, transport: 'ajax', headers: headers }
      });
      pusher.connection.bind('state_change', function (states) {
        var map = { connected: 'connected', connecting: 'connecting', failed: 'failed', unavailable: 'disconnected' };
        setConnection(map[states.current] || 'disconnected');
      });
      // pusher-js keeps the signed-in user to itself: hear the server's answers directly.
      pusher.connection.bind('message', function (event) {
        var data = event.data || {};
        if (event.event === 'pusher:signin_success') {
          signedIn(data.user_data);
        } else if (event.event === 'pusher:error' && data.code === 4009 && signin.state === 'pending') {
          signinFailed({ code: data.code, message: data.message });
        }
      });
      pusher.user.bind('pusher:signin_error', function (err) {
        signinFailed({ status: err && err.status, message: err && err.error });
      });
      ['online', 'offline'].forEach(function (name) {
        pusher.user.watchlist.bind(name, function (event) {
          watchlistEvents([{ name: name, user_ids: event && event.user_ids }]);
        });
      });
      subscriptions.forEach(subscribeNow);
      signinNow();
    }

    function signinNow() {
      if (!pusher || !signin.wanted) {
        return;
      }
      // pusher-js signs in once per page and again on each connection; asking again after a
      // refusal means trying again now.
      pusher.user.signin_requested = false;
      pusher.signin();
    }

    function subscribeNow(sub) {
      if (!pusher) {
        return;
      }
      var channel = pusher.subscribe(sub.name);
      sub.handler = function (event, data, metadata) {
        if (subscriptions.get(sub.name) !== sub) {
          return;
        }
        switch (event) {
          case 'pusher:subscription_succeeded':
            setState(sub, 'subscribed');
            if (channel.members) {
              var hash = {};
              channel.members.each(function (m) {
                hash[m.id] = m.info;
              });
              resetMembers(sub, hash, channel.members.me && channel.members.me.id);
            }
            break;
          case 'pusher:subscription_error':
            setState(sub, data && data.status === 403 ? 'denied' : 'error');
            break;
          case 'pusher:member_added':
            sub.members.set(String(data.id), data.info);
            membersChanged(sub);
            break;
          case 'pusher:member_removed':
            sub.members.delete(String(data.id));
            membersChanged(sub);
            break;
          default:
            if (event.indexOf('pusher') !== 0) {
              deliver(sub.name, event, data, metadata && metadata.user_id);
            }
        }
      };
      channel.bind_global(sub.handler);
    }

    return {
      start: start,
      subscribe: subscribeNow,
      unsubscribe: function (sub) {
        if (!pusher) {
          return;
        }
        // pusher-js reuses the channel object when it is subscribed again before the server
        // answered: this subscription's handler must not stay on it.
        var channel = pusher.channel(sub.name);
        if (channel && sub.handler) {
          channel.unbind_global(sub.handler);
        }
        pusher.unsubscribe(sub.name);
      },
      signin: signinNow,
      trigger: function (channel, event, data) {
        var ch = pusher && pusher.channel(channel);
        return ch ? ch.trigger(event, data) : false;
      },
      socketId: function () {
        return pusher ? pusher.connection.socket_id : null;
      }
    };
  }

  // ---- the page: elements, API, start ------------------------------------------------------

  var SUBSCRIBING = '[data-pusherable-channel],[data-pusherable-members]';

  /** The subscribe elements and presence lists at or under root. */
  function subscribingUnder(root) {
    var found = [];
    if (root.matches && root.matches(SUBSCRIBING)) {
      found.push(root);
    }
    if (root.querySelectorAll) {
      root.querySelectorAll(SUBSCRIBING).forEach(function (el) {
        found.push(el);
      });
    }
    return found;
  }

  function channelsOf(el) {
    return [el.getAttribute('data-pusherable-channel'), el.getAttribute('data-pusherable-members')]
      .filter(function (name) {
        return !!name;
      });
  }

  function scan(root) {
    var scope = root && root.querySelectorAll ? root : document;
    if (scope !== document && !scope.isConnected) {
      // Added, then taken out again before anyone saw it.
      return;
    }
    subscribingUnder(scope).forEach(function (el) {
      var channel = el.getAttribute('data-pusherable-channel');
      if (channel) {
        subscribe(channel, eventsOf(el));
      }
      var members = el.getAttribute('data-pusherable-members');
      if (members) {
        subscribe(members, []);
        var sub = subscriptions.get(members);
        if (sub) {
          membersChanged(sub);
        }
      }
    });
  }

  var transport = config.client === 'pusher-js' ? pusherJsTransport() : ownTransport();

  var api = {
    version: VERSION,
    state: 'initialized',
    /** Subscribes to a channel; events is a name, a list of names, or '*' for all. */
    subscribe: function (channel, events) {
      subscribe(channel, events, true);
    },
    /** Leaves a channel now, whatever elements of it remain on the page. */
    unsubscribe: unsubscribe,
    /**
     * Calls callback(data, {event, channel, user_id?}) for each event of that name ('*': all);
     * user_id is the sender of a client event on a presence channel, as the server tells it.
     */
    on: function (event, callback) {
      if (!callbacks.has(event)) {
        callbacks.set(event, []);
      }
      callbacks.get(event).push(callback);
    },
    off: function (event, callback) {
      var list = callbacks.get(event) || [];
      callbacks.set(event, list.filter(function (c) {
        return c !== callback;
      }));
    },
    /** Everyone on a presence channel, this page's user included (marked me: true). */
    members: function (channel) {
      var sub = subscriptions.get(channel);
      return sub ? membersOf(sub) : [];
    },
    /** Calls callback(members, channel) whenever a presence channel's members change. */
    onMembers: function (channel, callback) {
      if (typeof channel === 'function') {
        memberCallbacks.push({ channel: null, callback: channel });
      } else {
        memberCallbacks.push({ channel: channel, callback: callback });
      }
    },
    /** Asks for permission (call it from a click); then notices also show while the tab is hidden. */
    enableDesktopNotifications: function () {
      if (!window.Notification) {
        return Promise.resolve(false);
      }
      return Promise.resolve(Notification.requestPermission()).then(function (answer) {
        desktop = answer === 'granted';
        return desktop;
      });
    },
    /**
     * Sends a client event (its name must start with "client-") to the other pages on a
     * private or presence channel this page has joined; true if it was sent. The server
     * allows 10 per second per page and never echoes them back.
     */
    trigger: function (channel, event, data) {
      var sub = subscriptions.get(channel);
      if (!sub || sub.state !== 'subscribed' || String(event).indexOf('client-') !== 0) {
        return false;
      }
      return transport.trigger(channel, String(event), data === undefined ? {} : data);
    },
    /** This page's connection id, to send as X-Socket-ID so its own requests do not notify it. */
    socketId: function () {
      return transport.socketId();
    },
    /**
     * Signs this page's connection in as its user (and again after every reconnect), so that
     * it hears about the users its app's Access::watchlist names. Resolves with the user
     * ({id, info, watchlist}); rejects with an Error whose status is 403 when nobody is
     * signed in to the app. Also announced as 'pusherable:signin' / 'pusherable:signin_error'.
     */
    signin: requestSignin,
    /** The signed-in user ({id, info, watchlist}), or null. */
    user: function () {
      return signin.user;
    },
    /**
     * The watched users as the server last told: {online: [ids], offline: [ids]}. Each
     * 'pusherable:watchlist' announcement carries the ids that changed, in the same shape.
     */
    watchlist: watchlistNow,
    /** Looks for subscribe elements under root (the whole page by default). */
    scan: scan
  };
  window.pusherable = api;
  setConnection('initialized');

  /** Elements added, removed or changed: subscribe to what is new, leave what nothing asks for. */
  function observed(records) {
    var touched = new Set();
    records.forEach(function (record) {
      if (record.type === 'attributes') {
        if (record.oldValue && record.attributeName !== 'data-pusherable-events') {
          touched.add(record.oldValue);
        }
        channelsOf(record.target).forEach(function (name) {
          touched.add(name);
        });
        scan(record.target);
        return;
      }
      record.addedNodes.forEach(function (node) {
        if (node.nodeType === 1) {
          scan(node);
        }
      });
      record.removedNodes.forEach(function (node) {
        if (node.nodeType === 1) {
          subscribingUnder(node).forEach(function (el) {
            channelsOf(el).forEach(function (name) {
              touched.add(name);
            });
          });
        }
      });
    });
    // By now an element that only moved is back on the page, and keeps its subscription.
    touched.forEach(refresh);
  }

  function ready() {
    scan(document);
    if (window.MutationObserver) {
      new MutationObserver(observed).observe(document.documentElement, {
        childList: true,
        subtree: true,
        attributes: true,
        attributeOldValue: true,
        attributeFilter: ['data-pusherable-channel', 'data-pusherable-members', 'data-pusherable-events']
      });
    }
    transport.start();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', ready);
  } else {
    ready();
  }
})();
