/* Newsroom pages, live: notices, the presence bar, the typing indicator, the article list,
 * who is online, and what changed while the page was offline. Everything arrives through
 * pusherable.js: `pusherable_notify(event, data, channel)` for each event, `pusherable.onMembers`
 * for who is here, `pusherable.trigger` for client events, `pusherable.signin` and the
 * 'pusherable:watchlist' and 'pusherable:reconnected' announcements for the rest. */
(function () {
  'use strict';

  var live = window.pusherable;
  if (!live) {
    return;
  }
  var me = document.body.getAttribute('data-editor-id');
  /** How long "typing…" stays after the last keystroke heard. */
  var TYPING_MS = 4000;
  /** Least time between two typing events sent: enough to keep "typing…" up, no more. */
  var TYPING_EVERY_MS = 1500;

  // ---- notices ------------------------------------------------------------------------------

  var notices = document.getElementById('notices');

  function notice(text, options) {
    options = options || {};
    var box = document.createElement('div');
    box.className = 'notice' + (options.danger ? ' danger' : '');
    box.setAttribute('data-event', options.event || '');
    var p = document.createElement('p');
    p.textContent = text;
    box.appendChild(p);
    if (options.detail) {
      var detail = document.createElement('p');
      detail.className = 'fields';
      detail.textContent = options.detail;
      box.appendChild(detail);
    }
    var actions = document.createElement('div');
    if (options.reload) {
      actions.appendChild(button(options.reload, function () {
        location.reload();
      }));
    }
    actions.appendChild(button('Dismiss', function () {
      box.remove();
    }));
    box.appendChild(actions);
    notices.appendChild(box);
    while (notices.children.length > 4) {
      notices.removeChild(notices.firstChild);
    }
  }

  function button(label, onClick) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.addEventListener('click', onClick);
    return b;
  }

  function nameOf(user) {
    return user && user.name ? String(user.name) : 'Someone';
  }

  function idOf(user) {
    return user && user.id !== undefined && user.id !== null ? String(user.id) : null;
  }

  var FIELD_NAMES = { title: 'title', summary: 'summary', body: 'text' };

  // ---- the presence bar ---------------------------------------------------------------------

  var bar = document.getElementById('presence');
  var channel = bar ? bar.getAttribute('data-channel') : null;
  var form = document.getElementById('article-form');
  var editPage = !!(form && form.getAttribute('data-channel'));
  var members = [];
  /** user id -> true, for those with the edit form open */
  var editing = {};
  /** user id -> timer that ends their "typing…" */
  var typing = {};
  /** user id -> true, for everyone on the channel at the last change: who is new is not in it */
  var known = {};

  if (editPage) {
    editing[me] = true;
  }

  function render() {
    if (!bar) {
      return;
    }
    bar.textContent = '';
    members.forEach(function (m) {
      var li = document.createElement('li');
      li.setAttribute('data-user-id', m.id);
      var name = m.info && m.info.name ? String(m.info.name) : m.id;
      var avatar = document.createElement('span');
      avatar.className = 'avatar';
      avatar.setAttribute('aria-hidden', 'true');
      avatar.textContent = name.charAt(0);
      li.appendChild(avatar);
      var status = [];
      if (m.me) {
        status.push('you');
        li.classList.add('me');
      }
      if (typing[m.id]) {
        status.push('typing…');
      } else if (editing[m.id]) {
        status.push('editing');
      }
      if (editing[m.id] || typing[m.id]) {
        li.classList.add('editing');
      }
      var label = document.createElement('span');
      label.className = 'label';
      label.textContent = name + (status.length ? ' (' + status.join(', ') + ')' : '');
      li.appendChild(label);
      bar.appendChild(li);
    });
    var line = document.getElementById('typing');
    if (line) {
      var names = members.filter(function (m) {
        return !m.me && typing[m.id];
      }).map(function (m) {
        return m.info && m.info.name ? String(m.info.name) : m.id;
      });
      line.textContent = names.length ? names.join(' and ') + (names.length > 1 ? ' are' : ' is') + ' typing…' : '';
    }
  }

  /**
   * Client events go from page to page without the app. Who sent one is not in its data (a
   * page could claim anyone) but in the user id the server stamps on it.
   */
  function trigger(event, data) {
    return channel ? live.trigger(channel, event, data) : false;
  }

  /** The connection on which this edit page last said it is editing. */
  var announcedOn = null;

  if (channel) {
    live.onMembers(channel, function (list) {
      members = list.slice().sort(function (a, b) {
        return a.me === b.me ? 0 : a.me ? 1 : -1;
      });
      var present = {};
      var arrived = false;
      members.forEach(function (m) {
        present[m.id] = true;
        if (!known[m.id] && !m.me) {
          arrived = true;
        }
      });
      Object.keys(editing).forEach(function (id) {
        if (!present[id] && id !== me) {
          delete editing[id];
        }
      });
      known = present;
      render();
      // Whoever just arrived, and everyone after a reconnect, learns that this page has the
      // edit form open.
      var socket = live.socketId();
      if (editPage && (arrived || socket !== announcedOn) && trigger('client-editing', { editing: true })) {
        announcedOn = socket;
      }
    });
  }

  function heardTyping(id) {
    if (!id || id === me) {
      return;
    }
    clearTimeout(typing[id]);
    typing[id] = setTimeout(function () {
      delete typing[id];
      render();
    }, TYPING_MS);
    render();
  }

  if (editPage) {
    var lastSent = 0;
    form.addEventListener('input', function () {
      var now = Date.now();
      if (now - lastSent >= TYPING_EVERY_MS) {
        lastSent = now;
        trigger('client-typing', {});
      }
    });
    window.addEventListener('pagehide', function () {
      trigger('client-editing', { editing: false });
    });
  }

  // ---- what happened to the article --------------------------------------------------------

  /** The article is gone: nothing on this page can act on it any more. */
  var gone = false;

  function lockForm(message) {
    gone = true;
    var fields = document.getElementById('fields');
    if (fields) {
      fields.disabled = true;
    }
    var actions = document.getElementById('article-actions');
    if (actions) {
      actions.querySelectorAll('a, button').forEach(function (el) {
        el.setAttribute('aria-disabled', 'true');
        el.removeAttribute('href');
        el.disabled = true;
      });
    }
    var main = document.getElementById('main');
    var banner = document.createElement('div');
    banner.className = 'alert';
    banner.id = 'deleted';
    banner.setAttribute('role', 'alert');
    banner.textContent = message + (fields ? ' The form is locked.' : '');
    main.insertBefore(banner, main.firstChild);
  }

  function onArticle(event, data) {
    var user = data && data.user;
    var id = idOf(user);
    var name = nameOf(user);
    switch (event) {
      case 'update':
        editing[id] = true;
        render();
        notice(name + ' has begun editing this article', { event: event });
        break;
      case 'delete':
        // Nothing is gone yet, so nothing is locked: 'deleted' does that if they confirm.
        notice(name + ' is about to delete this article', { event: event });
        break;
      case 'updated':
        if (data.object && typeof data.object.version === 'number') {
          knownVersion = data.object.version;
        }
        delete editing[id];
        render();
        var changed = ((data.object && data.object.changed) || []).map(function (f) {
          return FIELD_NAMES[f] || f;
        });
        notice(name + ' saved a new version', {
          event: event,
          detail: changed.length ? 'Changed: ' + changed.join(', ') : 'Nothing changed',
          reload: editPage ? 'Load their version' : 'Reload'
        });
        break;
      case 'deleted':
        notice(name + ' deleted this article', { event: event, danger: true });
        lockForm(name + ' deleted this article.');
        break;
    }
  }

  live.on('client-editing', function (data, meta) {
    var id = meta.user_id;
    if (meta.channel !== channel || !id || id === me) {
      return;
    }
    if (data && data.editing) {
      editing[id] = true;
    } else {
      delete editing[id];
    }
    render();
  });

  live.on('client-typing', function (data, meta) {
    if (meta.channel === channel && meta.user_id) {
      editing[meta.user_id] = true;
      heardTyping(meta.user_id);
    }
  });

  // ---- after being offline -----------------------------------------------------------------

  var shown = document.querySelector('[data-article-id][data-version]');
  /** The article this page shows, if any, and the version it shows or has been told of since. */
  var articleId = shown ? shown.getAttribute('data-article-id') : null;
  var knownVersion = shown ? Number(shown.getAttribute('data-version')) : null;

  /**
   * Saves and deletes made while the page was offline were never heard. The article's version
   * says whether there were any: one small request, and the page (with a half-typed edit)
   * stays as it is unless the editor chooses to reload.
   */
  live.on('pusherable:reconnected', function () {
    if (!articleId || gone) {
      return;
    }
    fetch('/articles/' + encodeURIComponent(articleId) + '/version', {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' }
    }).then(function (res) {
      if (res.status === 404) {
        return { deleted: true };
      }
      return res.ok ? res.json() : null;
    }).then(function (answer) {
      if (!answer || gone) {
        return;
      }
      if (answer.deleted) {
        notice('You were offline, and this article was deleted meanwhile', { event: 'offline-deleted', danger: true });
        lockForm('This article was deleted while you were offline.');
      } else if (answer.version !== knownVersion) {
        knownVersion = answer.version;
        notice('You were offline, and this article changed meanwhile', {
          event: 'offline-changed',
          reload: editPage ? 'Load the new version' : 'Reload'
        });
      }
    }).catch(function () {
      // Offline again, or signed out: there is nothing to tell yet.
    });
  });

  // ---- who is online -----------------------------------------------------------------------

  var online = document.getElementById('online');

  function showOnline() {
    if (!online) {
      return;
    }
    var ids = live.watchlist().online;
    var anyone = false;
    online.querySelectorAll('li[data-user-id]').forEach(function (li) {
      li.hidden = ids.indexOf(li.getAttribute('data-user-id')) < 0;
      anyone = anyone || !li.hidden;
    });
    var none = document.getElementById('online-none');
    if (none) {
      none.hidden = anyone;
    }
  }

  live.on('pusherable:watchlist', showOnline);
  // The session may have ended meanwhile; the masthead then shows nobody online.
  live.signin().catch(function () {});

  // ---- the article list --------------------------------------------------------------------

  function listEntry(entry) {
    var li = document.createElement('li');
    li.setAttribute('data-article-id', String(entry.id));
    li.className = 'arrived';
    var a = document.createElement('a');
    a.href = '/articles/' + encodeURIComponent(entry.id);
    a.textContent = entry.title;
    li.appendChild(a);
    var summary = document.createElement('p');
    summary.className = 'summary';
    summary.textContent = entry.summary || '';
    li.appendChild(summary);
    var meta = document.createElement('p');
    meta.className = 'meta';
    meta.textContent = entry.updated_by + ' · ' + entry.when;
    li.appendChild(meta);
    return li;
  }

  function onDesk(event, data) {
    var list = document.getElementById('articles');
    var entry = data && data.object;
    if (!list || !entry) {
      return;
    }
    var existing = list.querySelector('[data-article-id="' + String(entry.id) + '"]');
    var mine = idOf(data.user) === me;
    if ((event === 'created' && !existing) || (event === 'updated' && existing)) {
      // The list is newest change first: a new or saved article goes to the top.
      if (existing) {
        existing.remove();
      }
      list.insertBefore(listEntry(entry), list.firstChild);
      if (event === 'created' && !mine) {
        notice(nameOf(data.user) + ' published “' + entry.title + '”', { event: event });
      }
    } else if (event === 'deleted' && existing) {
      existing.remove();
      if (!mine) {
        notice(nameOf(data.user) + ' deleted “' + entry.title + '”', { event: event, danger: true });
      }
    }
    var empty = document.getElementById('empty');
    if (empty) {
      empty.hidden = list.children.length > 0;
    }
  }

  window.pusherable_notify = function (event, data, channelName) {
    if (event.indexOf('client-') === 0) {
      return;
    }
    if (String(channelName).indexOf('presence-article-') === 0) {
      if (idOf(data && data.user) === me) {
        return;
      }
      onArticle(event, data || {});
    } else if (String(channelName).indexOf('private-desk-') === 0) {
      onDesk(event, data || {});
    }
  };
})();
