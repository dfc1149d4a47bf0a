/* Atlas des communs: the text typed in an evaluation sheet survives a reload.
 *
 * Every change is kept in localStorage (one draft per sheet) with the version the
 * form was opened at, until the sheet is saved. When the page of the saved sheet
 * loads and differs from the draft, the draft's text comes back, and so does its
 * version: if someone saved meanwhile, saving shows the conflict instead of
 * overwriting their text. A page that answers a refused save (data-state="posted")
 * never drops the draft: the text is not saved yet.
 */
(function () {
  'use strict';

  var form = document.getElementById('sheet-form');
  if (!form || !window.localStorage) return;
  var PREFIX = 'atlas-draft:';
  var key = PREFIX + form.dataset.draftKey;
  var notice = document.getElementById('draft-notice');
  var discard = document.getElementById('discard-draft');
  var versionInput = form.querySelector('input[name="version"]');

  if (form.dataset.clearDraft) {
    try { localStorage.removeItem(PREFIX + form.dataset.clearDraft); } catch (e) { /* full */ }
  }

  function fields() {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== 'csrf_token' && el.name !== 'version' &&
        (el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' ||
         (el.tagName === 'INPUT' && el.type !== 'hidden' && el.type !== 'submit'));
    });
  }

  function values() {
    var out = {};
    fields().forEach(function (el) {
      if (el.type === 'radio') {
        if (el.checked) out[el.name] = el.value;
        else if (!(el.name in out)) out[el.name] = '';
      } else {
        out[el.name] = el.value;
      }
    });
    return out;
  }

  function apply(saved) {
    fields().forEach(function (el) {
      if (!(el.name in saved)) return;
      if (el.type === 'radio') el.checked = el.value === saved[el.name];
      else el.value = saved[el.name];
    });
  }

  function same(a, b) {
    var names = Object.keys(a).concat(Object.keys(b));
    // The server trims what it stores: trailing spaces are no difference.
    return names.every(function (name) {
      return String(a[name] || '').trim() === String(b[name] || '').trim();
    });
  }

  function read() {
    try { return JSON.parse(localStorage.getItem(key) || 'null'); } catch (e) { return null; }
  }

  function say(text, canDiscard) {
    if (!notice) return;
    notice.querySelector('.draft-text').textContent = text;
    notice.hidden = false;
    if (discard) discard.hidden = !canDiscard;
  }

  var draft = read();
  var posted = form.dataset.state === 'posted';
  if (draft) {
    if (!same(draft.fields, values())) {
      apply(draft.fields);
      if (versionInput && draft.version) versionInput.value = draft.version;
      var when = new Date(draft.savedAt).toLocaleString(document.documentElement.lang || undefined);
      say(notice.dataset.restored.replace('{time}', when), true);
      form.dataset.restored = '1';
    } else if (!posted) {
      try { localStorage.removeItem(key); } catch (e) { /* ignore */ }
      draft = null;
    }
  }

  function keep() {
    var base = draft ? draft.version
      : (form.dataset.openedVersion || (versionInput ? versionInput.value : ''));
    draft = { version: base, savedAt: Date.now(), fields: values() };
    try {
      localStorage.setItem(key, JSON.stringify(draft));
      form.dataset.kept = String(draft.savedAt);
    } catch (e) { /* storage full or refused: the server still has the last save */ }
  }
  form.addEventListener('input', keep);
  form.addEventListener('change', keep);
  if (posted && !draft) keep();

  if (discard) {
    discard.addEventListener('click', function () {
      try { localStorage.removeItem(key); } catch (e) { /* ignore */ }
      window.location.reload();
    });
  }
})();
