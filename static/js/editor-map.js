/* Atlas des communs: placing an entry on a map, for the entry form and "suggest a place".
 *
 * The form works without this file: #lat and #lon are plain inputs. With it, a
 * Leaflet map shows a draggable marker; clicking the map or dragging the marker
 * fills the inputs, and typing in the inputs moves the marker.
 * Configuration comes from #location-map's data-config (no inline script: CSP).
 */
(function () {
  'use strict';

  var el = document.getElementById('location-map');
  var lonInput = document.getElementById('lon');
  var latInput = document.getElementById('lat');
  if (!el || !window.L || !lonInput || !latInput) return;
  var cfg = JSON.parse(el.dataset.config);
  var DIGITS = 6; // about 10 cm: finer than any address
  var clearButton = document.getElementById('clear-location');

  el.hidden = false;
  var map = L.map(el, { minZoom: 2, maxZoom: 19 });
  var tiles = L.tileLayer(cfg.tiles.url, { attribution: cfg.tiles.attribution, maxZoom: 19 });
  var warned = false;
  tiles.on('tileerror', function () {
    if (warned) return;
    warned = true;
    el.classList.add('tiles-down');
    var note = document.createElement('p');
    note.className = 'map-status';
    note.setAttribute('role', 'status');
    note.textContent = cfg.strings.tilesDown;
    el.appendChild(note);
  });
  tiles.addTo(map);

  function parse(input) {
    var raw = input.value.trim().replace(',', '.').replace('\u2212', '-');
    if (raw === '') return null;
    var value = Number(raw);
    return isFinite(value) ? value : NaN;
  }

  function current() {
    var lat = parse(latInput), lon = parse(lonInput);
    if (lat === null || lon === null || isNaN(lat) || isNaN(lon)) return null;
    if (lat < -90 || lat > 90 || lon < -180 || lon > 180) return null;
    return L.latLng(lat, lon);
  }

  var marker = null;

  function place(latlng) {
    if (!marker) {
      marker = L.marker(latlng, { draggable: true, autoPan: true, title: cfg.strings.marker,
                                  alt: cfg.strings.marker, keyboard: true });
      marker.on('dragend', function () {
        write(marker.getLatLng());
        if (cfg.reverse) reverseFill();
      });
      marker.on('drag', function () { write(marker.getLatLng()); });
      marker.addTo(map);
    } else {
      marker.setLatLng(latlng);
    }
    if (clearButton) clearButton.hidden = false;
    el.dataset.lat = latlng.lat;
    el.dataset.lon = latlng.lng;
  }

  function write(latlng) {
    var wrapped = latlng.wrap();
    latInput.value = wrapped.lat.toFixed(DIGITS);
    lonInput.value = wrapped.lng.toFixed(DIGITS);
    el.dataset.lat = wrapped.lat;
    el.dataset.lon = wrapped.lng;
    // Other scripts (drafts, previews) listen to input events.
    latInput.dispatchEvent(new Event('input', { bubbles: true }));
    lonInput.dispatchEvent(new Event('input', { bubbles: true }));
  }

  var start = current();
  if (start) {
    map.setView(start, 16);
    place(start);
  } else {
    map.setView(cfg.center, cfg.zoom);
  }

  map.on('click', function (event) {
    place(event.latlng);
    write(event.latlng);
  });

  function fromInputs() {
    var latlng = current();
    if (latlng) {
      place(latlng);
      if (!map.getBounds().contains(latlng)) map.panTo(latlng);
    }
  }
  latInput.addEventListener('change', fromInputs);
  lonInput.addEventListener('change', fromInputs);

  if (clearButton) {
    clearButton.hidden = !marker;
    clearButton.addEventListener('click', function () {
      if (marker) { map.removeLayer(marker); marker = null; }
      latInput.value = '';
      lonInput.value = '';
      clearButton.hidden = true;
      delete el.dataset.lat;
      delete el.dataset.lon;
    });
  }
  // The entry form's address look-ups (cfg.geocode, cfg.reverse: app/editor/geocode.py).
  var geocodeRow = document.getElementById('geocode-row');
  var geocodeButton = document.getElementById('geocode-address');
  var geocodeStatus = document.getElementById('geocode-status');
  function field(name) { return document.getElementById(name); }
  function fillEmpty(name, value) {
    var input = field(name);
    if (input && value && !input.value.trim()) {
      input.value = value;
      input.dispatchEvent(new Event('input', { bubbles: true }));
    }
  }
  function say(template, answer) {
    geocodeStatus.textContent = template.replace('{label}', answer.label || '')
      .replace('{score}', answer.score == null ? '?' : Number(answer.score).toFixed(2));
  }
  if (cfg.geocode && geocodeRow && geocodeButton) {
    geocodeRow.hidden = false;
    geocodeButton.addEventListener('click', function () {
      var params = new URLSearchParams();
      ['street', 'postcode', 'city'].forEach(function (name) {
        if (field(name)) params.set(name, field(name).value);
      });
      if (!(params.get('street') || params.get('postcode') || params.get('city') || '').trim()) {
        geocodeStatus.textContent = cfg.strings.needAddress;
        return;
      }
      fetch(cfg.geocode + '?' + params, { credentials: 'same-origin',
                                          headers: { Accept: 'application/json' } })
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          if (answer.status === 'found' || answer.status === 'low_score') {
            var latlng = L.latLng(answer.lat, answer.lon);
            place(latlng);
            write(latlng);
            map.setView(latlng, 17);
            fillEmpty('insee_code', answer.insee_code);
            say(answer.status === 'found' ? cfg.strings.found : cfg.strings.lowScore, answer);
          } else {
            say(answer.status === 'not_found' ? cfg.strings.notFound : cfg.strings.unavailable,
                answer);
          }
        })
        .catch(function () { geocodeStatus.textContent = cfg.strings.unavailable; });
    });
  }
  // A marker placed where the address is not typed yet: its commune from the reverse look-up.
  if (cfg.reverse) map.on('click', reverseFill);
  function reverseFill() {
    if (!marker || (field('city') && field('city').value.trim())) return;
    var at = marker.getLatLng();
    fetch(cfg.reverse + '?lon=' + at.lng.toFixed(6) + '&lat=' + at.lat.toFixed(6),
          { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (answer.status !== 'found') return;
        fillEmpty('postcode', answer.postcode);
        fillEmpty('city', answer.city);
        fillEmpty('insee_code', answer.insee_code);
      })
      .catch(function () {});
  }
  el.dataset.ready = '1';
})();
