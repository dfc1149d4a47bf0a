/* Atlas des communs: small helps on the editors' forms. Every form works without them.
 *
 * - tags: a search box that narrows the list of tags as you type;
 * - relations: suggestions of entries as you type (the server's search), more rows;
 * - conflicts: "use their version" copies the saved value into the form;
 * - Markdown: a preview of each long text, rendered and sanitised by the server;
 * - deleting asks for confirmation; the error summary takes the focus.
 */
(function () {
  'use strict';

  function csrfToken() {
    var input = document.querySelector('input[name="csrf_token"]');
    return input ? input.value : '';
  }

  function fold(text) {
    return text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  }

  // -- tags ------------------------------------------------------------------------------------
  var tagFilter = document.getElementById('tag-filter');
  if (tagFilter) {
    var filterBox = tagFilter.closest('.tag-filter');
    var status = document.getElementById('tag-filter-status');
    filterBox.hidden = false;
    tagFilter.addEventListener('input', function () {
      var q = fold(tagFilter.value.trim());
      var shown = 0;
      document.querySelectorAll('#tag-groups .tag-group').forEach(function (group) {
        var inGroup = 0;
        group.querySelectorAll('li').forEach(function (li) {
          var input = li.querySelector('input');
          var match = !q || fold(li.textContent).indexOf(q) !== -1 || input.checked;
          li.hidden = !match;
          if (match) inGroup += 1;
        });
        group.hidden = inGroup === 0;
        shown += inGroup;
      });
      if (status) status.textContent = q ? String(shown) : '';
    });
    tagFilter.addEventListener('keydown', function (event) {
      if (event.key !== 'Enter') return;
      event.preventDefault(); // Enter ticks the only match instead of sending the form
      var visible = Array.prototype.filter.call(
        document.querySelectorAll('#tag-groups li'), function (li) { return !li.hidden; });
      var unchecked = visible.filter(function (li) { return !li.querySelector('input').checked; });
      if (unchecked.length === 1) unchecked[0].querySelector('input').checked = true;
    });
  }

  // -- relations --------------------------------------------------------------------------------
  var rows = document.querySelector('[data-relation-rows]');
  var datalist = document.getElementById('entry-suggestions');
  if (rows && datalist) {
    var searchUrl = rows.dataset.searchUrl;
    var pending = null;
    var lastQuery = '';
    rows.addEventListener('input', function (event) {
      var input = event.target;
      if (!input.matches('[data-relation-target]')) return;
      var q = input.value.trim();
      if (q.length < 2 || q === lastQuery) return;
      clearTimeout(pending);
      pending = setTimeout(function () {
        lastQuery = q;
        fetch(searchUrl + '?q=' + encodeURIComponent(q), { credentials: 'same-origin',
                                                           headers: { Accept: 'application/json' } })
          .then(function (r) { return r.ok ? r.json() : { items: [] }; })
          .then(function (body) {
            datalist.textContent = '';
            body.items.forEach(function (item) {
              var option = document.createElement('option');
              option.value = item.slug;
              option.label = item.name + (item.city ? ' · ' + item.city : '');
              option.textContent = option.label;
              datalist.appendChild(option);
            });
            rows.dataset.suggested = String(body.items.length);
          })
          .catch(function () { /* suggestions are a help only */ });
      }, 150);
    });

    var addButton = document.querySelector('[data-add-relation]');
    if (addButton) {
      addButton.hidden = false;
      addButton.addEventListener('click', function () {
        var all = rows.querySelectorAll('.relation-row');
        var template = all[all.length - 1];
        var next = 0;
        all.forEach(function (row) {
          var select = row.querySelector('select');
          var index = Number(select.name.split('-')[1]);
          if (index >= next) next = index + 1;
        });
        var clone = template.cloneNode(true);
        clone.classList.remove('has-error');
        clone.querySelectorAll('.field-errors, .relation-name, .badge').forEach(function (n) { n.remove(); });
        clone.querySelectorAll('[id], [for], [name]').forEach(function (node) {
          ['id', 'for', 'name'].forEach(function (attr) {
            var value = node.getAttribute(attr);
            if (value) node.setAttribute(attr, value.replace(/relations-\d+-/, 'relations-' + next + '-'));
          });
        });
        var input = clone.querySelector('[data-relation-target]');
        input.value = '';
        input.removeAttribute('aria-invalid');
        input.removeAttribute('aria-describedby');
        rows.appendChild(clone);
        input.focus();
      });
    }
  }

  // -- conflicts: take the saved value -----------------------------------------------------------
  document.querySelectorAll('.use-theirs').forEach(function (button) {
    button.hidden = false;
    button.addEventListener('click', function () {
      var field = document.querySelector('[name="' + button.dataset.field + '"]');
      if (!field) return;
      if (field.type === 'radio') {
        var radio = document.querySelector('[name="' + button.dataset.field + '"][value="' +
                                           button.dataset.value + '"]');
        if (radio) radio.checked = true;
      } else {
        field.value = button.dataset.value;
      }
      field.dispatchEvent(new Event('input', { bubbles: true }));
      field.dispatchEvent(new Event('change', { bubbles: true }));
      button.closest('tr').classList.add('taken');
    });
  });

  // -- Markdown preview ----------------------------------------------------------------------------
  var page = document.querySelector('[data-preview-url]');
  var previewUrl = page && page.dataset.previewUrl;
  document.querySelectorAll('textarea[data-preview]').forEach(function (area) {
    if (!previewUrl) return;
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'link-button preview-button';
    button.textContent = page.dataset.previewLabel;
    button.setAttribute('aria-controls', area.id + '-preview');
    button.setAttribute('aria-expanded', 'false');
    var box = document.createElement('div');
    box.className = 'prose preview';
    box.id = area.id + '-preview';
    box.hidden = true;
    box.setAttribute('aria-live', 'polite');
    area.insertAdjacentElement('afterend', box);
    area.insertAdjacentElement('afterend', button);
    button.addEventListener('click', function () {
      if (!box.hidden) {
        box.hidden = true;
        button.setAttribute('aria-expanded', 'false');
        button.textContent = page.dataset.previewLabel;
        return;
      }
      var body = new URLSearchParams();
      body.set('text', area.value);
      fetch(previewUrl, { method: 'POST', credentials: 'same-origin', body: body,
                          headers: { 'X-CSRFToken': csrfToken(), Accept: 'application/json' } })
        .then(function (r) { return r.json(); })
        .then(function (json) {
          // Sanitised by the server (nh3), as on the public pages.
          box.innerHTML = json.html || '';
          box.hidden = false;
          button.setAttribute('aria-expanded', 'true');
          button.textContent = page.dataset.previewHide;
        });
    });
  });

  // -- confirmations, focus --------------------------------------------------------------------------
  document.querySelectorAll('form[data-confirm]').forEach(function (form) {
    form.addEventListener('submit', function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  var summary = document.getElementById('error-summary');
  if (summary) summary.focus();
})();
