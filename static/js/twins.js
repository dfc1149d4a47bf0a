/* Atlas des communs: "is it already on the map?" as a place is typed.
 *
 * The form's data-twins-url answers {twins: [{url, message}, ...]} for its name,
 * position, website and SIRET (app/editor/twins.py: the importers' twin rule). A warning,
 * never a block: the form sends as before, and the server checks again.
 */
(function () {
  'use strict';

  var form = document.querySelector('form[data-twins-url]');
  var box = document.getElementById('twins-warning');
  var list = document.getElementById('twins-list');
  if (!form || !box || !list || !window.fetch) return;
  var FIELDS = ['name', 'lat', 'lon', 'website', 'siret'];
  var timer = null;
  var seq = 0;
  var last = null;

  function check() {
    var params = new URLSearchParams();
    FIELDS.forEach(function (name) {
      var input = form.elements[name];
      if (input && input.value.trim()) params.set(name, input.value.trim());
    });
    var query = params.toString();
    if (query === last) return;
    last = query;
    var mine = ++seq;
    fetch(form.dataset.twinsUrl + '?' + query, { credentials: 'same-origin' })
      .then(function (response) { return response.ok ? response.json() : { twins: [] }; })
      .then(function (data) {
        if (mine !== seq) return;
        var fragment = document.createDocumentFragment();
        data.twins.forEach(function (twin) {
          var li = document.createElement('li');
          var a = document.createElement('a');
          a.href = twin.url;
          a.target = '_blank';
          a.rel = 'noopener';
          a.textContent = twin.message;
          a.dataset.slug = twin.slug;
          li.appendChild(a);
          fragment.appendChild(li);
        });
        list.replaceChildren(fragment);
        box.hidden = data.twins.length === 0;
      })
      .catch(function () { /* the server checks again on submit */ });
  }

  form.addEventListener('input', function (event) {
    if (FIELDS.indexOf(event.target.name) < 0) return;
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  });
}());
