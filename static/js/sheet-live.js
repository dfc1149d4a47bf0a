/* Atlas des communs: several editors on one evaluation sheet see each other type.
 *
 * Once a second (sooner after typing) the page posts to the sheet's live URL the fields
 * it changed, each with the value it started from (`base`), and receives the others'
 * changes and who else has the sheet open (app/editor/live.py). The server merges a
 * field typed by two people (app/services/textmerge.py), so nobody's words are lost; the
 * merged value comes back and replaces the field only if it was not typed in meanwhile
 * (else the next call merges again, from what this page sent). Saving first sends what is
 * pending, then posts the form as before; without this script the form still saves, and
 * the server merges or shows the conflict screen.
 */
(function () {
  'use strict';

  var form = document.getElementById('sheet-form');
  if (!form || !form.dataset.liveUrl || !window.fetch || !window.JSON) return;
  var url = form.dataset.liveUrl;
  var token = (form.querySelector('input[name="csrf_token"]') || {}).value || '';
  var status = document.getElementById('live-status');
  var client = (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
    : 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0;
      return (c === 'x' ? r : (r & 3 | 8)).toString(16);
    });
  var SKIP = { csrf_token: 1, version: 1, comment: 1 };
  var POLL_MS = 1000;

  var names = [];
  var shadow = {};   // the last value known to be shared, per field
  var seqOf = {};    // the number of the change that value came from
  var cursor = 0;    // changes after this number are still to be read
  var inflight = false;
  var timer = null;
  var failures = 0;

  function elements(name) {
    return Array.prototype.filter.call(form.elements, function (el) { return el.name === name; });
  }

  function norm(value) { return String(value || '').replace(/\r\n/g, '\n').trim(); }

  function read(name, initial) {
    var els = elements(name);
    var el = els[0];
    if (el.type === 'radio') {
      var on = els.filter(function (r) { return initial ? r.defaultChecked : r.checked; })[0];
      return on ? on.value : '';
    }
    if (el.tagName === 'SELECT') {
      if (!initial) return el.value;
      var chosen = Array.prototype.filter.call(el.options, function (o) { return o.defaultSelected; })[0];
      return chosen ? chosen.value : '';
    }
    return initial ? el.defaultValue : el.value;
  }

  function write(name, value) {
    var els = elements(name);
    var el = els[0];
    if (el.type === 'radio') {
      els.forEach(function (r) { r.checked = r.value === value; });
    } else if (el.tagName === 'SELECT') {
      el.value = value;
      highlightLevel(el);
    } else if (el === document.activeElement && typeof el.selectionStart === 'number') {
      // Keep the caret where it was in the text around it.
      var old = el.value, start = el.selectionStart, end = el.selectionEnd;
      var same = 0;
      while (same < old.length && same < value.length && old[same] === value[same]) same++;
      var shift = value.length - old.length;
      el.value = value;
      el.setSelectionRange(start <= same ? start : Math.max(same, start + shift),
                           end <= same ? end : Math.max(same, end + shift));
    } else {
      el.value = value;
    }
    form.dispatchEvent(new CustomEvent('atlas:live-change', { detail: { field: name } }));
  }

  function highlightLevel(select) {
    var list = document.getElementById(select.id + '-hint');
    if (!list) return;
    Array.prototype.forEach.call(list.children, function (li) {
      li.classList.toggle('chosen', li.dataset.level === select.value);
    });
  }

  Array.prototype.forEach.call(form.elements, function (el) {
    if (!el.name || SKIP[el.name] || names.indexOf(el.name) >= 0) return;
    if (el.type === 'hidden' || el.type === 'submit' || el.type === 'button') return;
    names.push(el.name);
  });
  names.forEach(function (name) { shadow[name] = norm(read(name, true)); seqOf[name] = 0; });

  function dirty(name) { return norm(read(name)) !== shadow[name]; }

  // A draft restored by sheet-draft.js was typed from the version it kept, not from this
  // page: its fields are sent with that version as their base, so the server keeps what
  // others changed since in the fields this draft did not touch.
  var versionInput = form.querySelector('input[name="version"]');
  var draftVersion = form.dataset.restored && versionInput ? parseInt(versionInput.value, 10) : NaN;
  var fromDraft = {};
  if (!isNaN(draftVersion)) names.forEach(function (name) { if (dirty(name)) fromDraft[name] = true; });
  var draftKey = 'atlas-draft:' + form.dataset.draftKey;
  // What was restored is shared at once: "discard" could no longer take it back.
  var discard = document.getElementById('discard-draft');
  if (discard) discard.hidden = true;

  function focused() {
    var el = document.activeElement;
    return el && el.form === form && names.indexOf(el.name) >= 0 ? el.name : null;
  }

  function say(key, list) {
    if (!status) return;
    var text = status.dataset[key] || '';
    status.querySelector('.live-text').textContent = text.replace('{names}', list || '');
    status.hidden = false;
    status.dataset.present = key;
  }

  function showPresence(present) {
    Array.prototype.forEach.call(form.querySelectorAll('.live-writer'), function (el) {
      el.parentNode.removeChild(el);
    });
    var people = [];
    var byField = {};
    present.forEach(function (p) {
      if (people.indexOf(p.name) < 0) people.push(p.name);
      if (p.field) (byField[p.field] = byField[p.field] || []).push(p.name);
    });
    if (!people.length) say('alone');
    else say('others', people.join(', '));
    if (status) status.dataset.names = people.join(', ');
    Object.keys(byField).forEach(function (name) {
      var el = elements(name)[0];
      var label = el && (el.type !== 'radio' && el.id
        ? form.querySelector('label[for="' + el.id + '"]')
        : (el.closest('fieldset') || {}).querySelector && el.closest('fieldset').querySelector('legend'));
      if (!label) return;
      var mark = document.createElement('span');
      mark.className = 'live-writer';
      mark.setAttribute('aria-hidden', 'true');
      mark.textContent = (status ? status.dataset.writing : '{names}')
        .replace('{names}', byField[name].join(', '));
      label.appendChild(mark);
    });
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(tick, ms);
  }

  function tick() {
    if (inflight) return;
    var sent = {};
    var changes = [];
    names.forEach(function (name) {
      if (!dirty(name)) return;
      sent[name] = read(name);
      changes.push(fromDraft[name]
        ? { field: name, base_version: draftVersion, value: sent[name] }
        : { field: name, base: shadow[name], value: sent[name] });
    });
    inflight = true;
    fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': token },
      body: JSON.stringify({ client: client, since: cursor, focus: focused(), changes: changes })
    }).then(function (response) {
      if (!response.ok) throw new Error('HTTP ' + response.status);
      return response.json();
    }).then(function (data) {
      failures = 0;
      data.applied.forEach(function (a) {
        delete fromDraft[a.field];
        if (norm(read(a.field)) === norm(sent[a.field])) {
          if (norm(read(a.field)) !== a.value) write(a.field, a.value);
          shadow[a.field] = a.value;
        } else {
          // Typed on meanwhile: the text still derives from what was sent.
          shadow[a.field] = norm(sent[a.field]);
        }
        if (a.seq) seqOf[a.field] = Math.max(seqOf[a.field] || 0, a.seq);
      });
      data.changes.forEach(function (c) {
        if (c.seq <= (seqOf[c.field] || 0) || !(c.field in shadow)) return;
        if (dirty(c.field)) return;  // the next call merges it with what is typed
        if (norm(read(c.field)) !== c.value) write(c.field, c.value);
        shadow[c.field] = c.value;
        seqOf[c.field] = c.seq;
      });
      cursor = Math.max(cursor, data.cursor);
      showPresence(data.present);
      // Everything typed here is on the server: the browser's draft is not needed, and an
      // old one restored later would only bring back what others have changed since.
      if (!names.some(dirty)) {
        try { localStorage.removeItem(draftKey); } catch (e) { /* storage refused */ }
      }
    }).catch(function () {
      failures += 1;
      say('offline');
    }).then(function () {
      inflight = false;
      var pending = names.some(dirty);
      // A hidden tab asks less often (still within the presence window of 10 s).
      var idle = document.hidden ? 5000 : POLL_MS;
      schedule(pending ? 150 : Math.min(idle * (1 + failures), 10000));
    });
  }

  form.addEventListener('input', function () { schedule(250); });
  form.addEventListener('change', function (event) {
    if (event.target.tagName === 'SELECT') highlightLevel(event.target);
    schedule(100);
  });
  form.addEventListener('focusin', function () { schedule(300); });
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && !inflight) schedule(0);
  });

  // Saving sends what is pending first, so the save and the shared text agree.
  form.addEventListener('submit', function (event) {
    if (form.dataset.flushed) return;
    event.preventDefault();
    var started = Date.now();
    (function wait() {
      if ((!inflight && !names.some(dirty)) || Date.now() - started > 3000) {
        form.dataset.flushed = '1';
        clearTimeout(timer);
        HTMLFormElement.prototype.submit.call(form);
        return;
      }
      if (!inflight) tick();
      setTimeout(wait, 50);
    })();
  });

  tick();
})();
