/* Atlas des communs: the map of the map page, the embed and an entry's page.
 *
 * Thin on purpose: the server filters (app.query) and translates (Flask-Babel);
 * this file fetches one compact marker document per filter, clusters it with
 * supercluster, draws it with Leaflet, lists what the view shows and keeps the
 * view and the filters in the URL (?kind=…&tag=…&q=…#map=zoom/lat/lon).
 * Past the server's threshold the document says "mode": "cells" and holds no
 * markers: the view's tiles of clusters, counted by PostGIS, are asked for instead
 * by blocks of 4 × 4 tiles (/map/blocks/z/x/y.json, app/web/map_cells.py) and drawn
 * as they are.
 * No inline script anywhere: the configuration comes in #map's data-config.
 */
(function () {
  'use strict';

  setupCopyButtons();

  var el = document.getElementById('map');
  if (!el || !window.L) return;
  var cfg = JSON.parse(el.dataset.config);
  var S = cfg.strings;
  var kinds = cfg.kinds;
  var FILTER_KEYS = ['kind', 'tag', 'q'];
  var LIST_MAX = 100;
  var CLUSTER_MAX_ZOOM = 17;
  var numberFormat = new Intl.NumberFormat(cfg.locale);
  var compactFormat = new Intl.NumberFormat(cfg.locale, { notation: 'compact' });
  var plural = new Intl.PluralRules(cfg.locale);
  var status = document.getElementById('map-status');

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (m, key) {
      return key in values ? values[key] : m;
    });
  }
  function counted(forms, n) {
    return fmt(forms[plural.select(n)] || forms.other, { n: numberFormat.format(n) });
  }
  function say(text) {
    if (status) status.textContent = text || '';
  }
  function entryUrl(slug) {
    return cfg.entryUrl.replace('SLUG', encodeURIComponent(slug));
  }
  function distanceText(metres) {
    if (metres < 1000) return fmt(S.metres, { n: numberFormat.format(Math.round(metres)) });
    var km = metres < 10000 ? Math.round(metres / 100) / 10 : Math.round(metres / 1000);
    return fmt(S.kilometres, { n: numberFormat.format(km) });
  }
  // Metres between two [lat, lon] points (haversine; plenty for "which is nearer").
  function metresBetween(a, b) {
    var rad = Math.PI / 180;
    var dLat = (b[0] - a[0]) * rad, dLon = (b[1] - a[1]) * rad;
    var h = Math.sin(dLat / 2) * Math.sin(dLat / 2) +
      Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) * Math.sin(dLon / 2);
    return 12742000 * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  // -- the map -----------------------------------------------------------------
  var map = L.map(el, { zoomControl: false, minZoom: 2, maxZoom: 19, worldCopyJump: true });
  L.control.zoom({ zoomInTitle: S.zoomIn, zoomOutTitle: S.zoomOut }).addTo(map);
  var tiles = L.tileLayer(cfg.tiles.url, { attribution: cfg.tiles.attribution, maxZoom: 19 });
  var tileErrors = 0;
  tiles.on('tileerror', function () {
    // No background (offline, blocked, server down): say so once; markers stay.
    tileErrors += 1;
    if (tileErrors === 1) {
      el.classList.add('tiles-down');
      say(S.tilesDown);
    }
  });
  tiles.addTo(map);

  function kindIcon(kindIndex) {
    var kind = kinds[kindIndex];
    var dot = document.createElement('span');
    dot.className = 'atlas-dot';
    dot.style.backgroundColor = kind.colour;
    return L.divIcon({ html: dot, className: 'atlas-marker kind-' + kind.id, iconSize: [20, 20] });
  }

  function kindIndexOf(id) {
    for (var i = 0; i < kinds.length; i++) if (kinds[i].id === id) return i;
    return 0;
  }

  if (cfg.mode === 'single') {
    var e = cfg.entry;
    map.setView([e.lat, e.lon], 16);
    L.marker([e.lat, e.lon], { icon: kindIcon(kindIndexOf(e.kind)), title: e.name, keyboard: false })
      .addTo(map);
    el.dataset.drawn = '1';
    return;
  }

  addLegend();

  var form = document.getElementById('filters');
  var qInput = document.getElementById('q');
  var list = document.getElementById('results-list');
  var listCount = document.getElementById('results-count');
  var listMore = document.getElementById('results-more');
  var unlocatedNote = document.getElementById('results-unlocated');
  var directoryLink = document.getElementById('directory-link');
  var fullMapLink = document.getElementById('full-map-link');

  var layer = L.layerGroup().addTo(map);
  var index = null;       // supercluster
  var cells = null;       // in cells mode: {query, kinds remap, tiles: {"z/x/y": block promise}}
  var viewTotal = 0;      // in cells mode: the entries of the clusters in the view
  var points = [];        // [slug, kind index, lon, lat, name]
  var byName = [];        // indexes into points, by name
  var drawn = 0;
  var loadSeq = 0;
  var cache = {};
  var records = {};       // slug -> promise of its public record (popups)
  // "Around me" (or an address, through the atlas:origin event): the list is sorted by
  // distance from here and shows it, and a filter change keeps the view on it.
  var origin = null;      // [lat, lon]

  function readHash() {
    var m = /map=(\d+)\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)/.exec(location.hash);
    return m ? { zoom: +m[1], lat: +m[2], lon: +m[3] } : null;
  }

  function currentQuery() {
    var params = new URLSearchParams();
    var add = function (value, key) {
      value = String(value).trim();
      if (value && FILTER_KEYS.indexOf(key) >= 0) params.append(key, value);
    };
    if (form) new FormData(form).forEach(add);
    else new URLSearchParams(location.search).forEach(add);
    return params.toString();
  }

  function writeUrl() {
    var query = currentQuery();
    var c = map.getCenter();
    var z = map.getZoom();
    var digits = Math.max(0, Math.ceil(Math.log(z) / Math.LN2));
    var hash = '#map=' + z + '/' + c.lat.toFixed(digits) + '/' + c.lng.toFixed(digits);
    if (cfg.mode === 'full') {
      history.replaceState(null, '', location.pathname + (query ? '?' + query : '') + hash);
      document.querySelectorAll('[data-lang-switch]').forEach(function (a) {
        var params = new URLSearchParams(query);
        params.set('lang', a.dataset.langSwitch);
        a.href = location.pathname + '?' + params.toString() + hash;
      });
    }
    if (directoryLink) {
      var near = origin ? 'near=' + origin[1].toFixed(5) + ',' + origin[0].toFixed(5) +
        '&radius=' + cfg.aroundRadius + '&sort=distance' : '';
      var listed = [query, near].filter(Boolean).join('&');
      directoryLink.href = cfg.directoryUrl + (listed ? '?' + listed : '');
    }
    if (fullMapLink) fullMapLink.href = cfg.mapUrl + (query ? '?' + query : '') + hash;
  }

  // -- data --------------------------------------------------------------------
  function load(fit) {
    var query = currentQuery();
    var seq = ++loadSeq;
    el.setAttribute('aria-busy', 'true');
    if (!cache[query]) {
      // Same URL and mode as the page's <link rel=preload>, so that one is used.
      cache[query] = fetch(cfg.markersUrl + (query ? '?' + query : ''), {
        credentials: 'same-origin'
      }).then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      });
      cache[query].catch(function () { delete cache[query]; });
    }
    return cache[query].then(function (data) {
      if (seq !== loadSeq) return;  // a newer filter won
      performance.mark('atlas-markers-fetched');
      if (data.mode === 'cells') {
        cells = { query: query, remap: data.kinds.map(kindIndexOf), tiles: {} };
        index = null;
        updateFacets(data.facets);
        updateUnlocated(data.unlocated, query);
        el.dataset.query = query;
        el.dataset.markersMode = 'cells';
        return renderCells().then(function () { el.removeAttribute('aria-busy'); });
      }
      cells = null;
      el.dataset.markersMode = 'file';
      build(data);
      performance.mark('atlas-index-built');
      updateFacets(data.facets);
      updateUnlocated(data.unlocated, query);
      el.dataset.query = query;
      if (fit && points.length) fitToPoints();
      render();
      el.removeAttribute('aria-busy');
    });
  }

  function build(data) {
    // The document's kind order may differ from ours: map it once.
    var remap = data.kinds.map(kindIndexOf);
    points = data.markers;
    var features = new Array(points.length);
    for (var i = 0; i < points.length; i++) {
      var m = points[i];
      if (!data.remapped) m[1] = remap[m[1]];
      features[i] = {
        type: 'Feature', properties: { i: i },
        geometry: { type: 'Point', coordinates: [m[2], m[3]] }
      };
    }
    index = new Supercluster({
      radius: 60,
      maxZoom: CLUSTER_MAX_ZOOM,
      // Per-kind counts in every cluster, for its pie.
      map: function (props) {
        var counts = {};
        counts['k' + points[props.i][1]] = 1;
        return counts;
      },
      reduce: function (acc, props) {
        for (var key in props) if (key.charAt(0) === 'k') acc[key] = (acc[key] || 0) + props[key];
      }
    }).load(features);
    data.remapped = true;
    // By slug for the first draw (the server's order, close to the names'); by
    // accent-blind name right after, off the path to the first drawing.
    byName = points.map(function (_, i) { return i; });
    setTimeout(sortByName, 0);
  }

  function sortByName() {
    var keys = points.map(function (m) {
      return m[4].normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
    });
    byName.sort(function (a, b) { return keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0; });
    listInView();
  }

  function fitToPoints() {
    var w = 180, s = 90, e = -180, n = -90;
    for (var i = 0; i < points.length; i++) {
      var m = points[i];
      if (m[2] < w) w = m[2];
      if (m[2] > e) e = m[2];
      if (m[3] < s) s = m[3];
      if (m[3] > n) n = m[3];
    }
    map.fitBounds([[s, w], [n, e]], { maxZoom: 15, padding: [30, 30], animate: false });
  }

  // -- drawing -------------------------------------------------------------------
  var openMarker = null;

  function render() {
    if (cells) { renderCells().catch(fail); return; }
    if (!index) return;
    var b = map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
    if (bbox[2] - bbox[0] >= 360) { bbox[0] = -180; bbox[2] = 180; }
    var clusters = index.getClusters(bbox, Math.round(map.getZoom()));
    // The marker whose popup is open stays (redrawn, it would close its popup: a popup
    // that pans the map to fit, on a phone, closed as soon as it opened).
    var kept = openMarker && layer.hasLayer(openMarker) && openMarker.isPopupOpen()
      ? openMarker : null;
    var markers = [];
    for (var i = 0; i < clusters.length; i++) {
      var c = clusters[i];
      if (kept && !c.properties.cluster && c.properties.i === kept.atlasIndex) continue;
      markers.push(c.properties.cluster ? clusterMarker(c) : pointMarker(c.properties.i));
    }
    layer.eachLayer(function (old) { if (old !== kept) layer.removeLayer(old); });
    for (var j = 0; j < markers.length; j++) layer.addLayer(markers[j]);
    listInView();
    drawn += 1;
    el.dataset.drawn = String(drawn);
    performance.mark('atlas-clusters-drawn');
  }

  // The blocks that the view covers at its zoom, as "z/x/y": squares of BLOCK × BLOCK
  // tiles (256 px, XYZ) on a grid, the whole world below zoom 2 (app/web/map_cells.py
  // map_blocks). Some 20 tiles make a view, 2 to 6 blocks: as many requests.
  var BLOCK = 4;
  function viewBlocks(z) {
    var b = map.getPixelBounds();
    var scale = map.getZoomScale(z, map.getZoom());
    var n = Math.pow(2, z);
    var span = Math.min(BLOCK, n);
    var out = {};
    var x0 = Math.floor(b.min.x * scale / 256), x1 = Math.floor(b.max.x * scale / 256);
    var y0 = Math.max(0, Math.floor(b.min.y * scale / 256));
    var y1 = Math.min(n - 1, Math.floor(b.max.y * scale / 256));
    for (var x = x0; x <= Math.min(x1, x0 + n - 1); x++) {
      for (var y = y0; y <= y1; y++) {
        out[z + '/' + Math.floor((((x % n) + n) % n) / span) + '/' + Math.floor(y / span)] = true;
      }
    }
    return Object.keys(out);
  }

  function block(key) {
    if (!cells.tiles[key]) {
      var query = cells.query;
      cells.tiles[key] = fetch(cfg.blocksUrl.replace('Z/X/Y', key) + (query ? '?' + query : ''), {
        credentials: 'same-origin'
      }).then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      });
      var kept = cells.tiles;
      cells.tiles[key].catch(function () { delete kept[key]; });
    }
    return cells.tiles[key];
  }

  function renderCells() {
    var z = Math.max(0, Math.min(22, Math.round(map.getZoom())));
    var seq = loadSeq;
    var mine = cells;
    return Promise.all(viewBlocks(z).map(block)).then(function (answers) {
      if (seq !== loadSeq || mine !== cells || z !== Math.round(map.getZoom())) return;
      var remap = cells.remap;
      var markers = [];
      var view = map.getBounds();
      points = [];
      viewTotal = 0;
      answers.forEach(function (t) {
        t.cells.forEach(function (c) {
          if (view.contains([c[2], c[1]])) viewTotal += c[0];
          var counts = {};
          for (var k = 0; k < remap.length; k++) counts['k' + remap[k]] = c[3 + k];
          counts.point_count = c[0];
          var cluster = { properties: counts, geometry: { coordinates: [c[1], c[2]] } };
          markers.push(clusterMarker(cluster, z + 2));
        });
        t.markers.forEach(function (m) {
          points.push([m[0], remap[m[1]], m[2], m[3], m[4]]);
          markers.push(pointMarker(points.length - 1));
        });
      });
      byName = points.map(function (_, i) { return i; });
      sortByName();
      layer.clearLayers();
      for (var j = 0; j < markers.length; j++) layer.addLayer(markers[j]);
      drawn += 1;
      el.dataset.drawn = String(drawn);
      performance.mark('atlas-clusters-drawn');
    });
  }

  // A cluster of supercluster's, or (cells mode, `zoomTo` given) of a tile's cell.
  function clusterMarker(c, zoomTo) {
    var n = c.properties.point_count;
    var coords = c.geometry.coordinates;
    var stops = [];
    var seen = 0;
    for (var k = 0; k < kinds.length; k++) {
      var v = c.properties['k' + k] || 0;
      if (!v) continue;
      stops.push(kinds[k].colour + ' ' + (seen / n * 360) + 'deg ' + ((seen + v) / n * 360) + 'deg');
      seen += v;
    }
    var ring = document.createElement('span');
    ring.className = 'atlas-cluster-ring';
    ring.style.background = 'conic-gradient(' + stops.join(',') + ')';
    var label = document.createElement('span');
    label.className = 'atlas-cluster-count';
    label.dataset.count = String(n);
    label.textContent = n < 1000 ? String(n) : compactFormat.format(n);
    ring.appendChild(label);
    var size = n < 10 ? 34 : n < 100 ? 40 : n < 1000 ? 46 : 54;
    var marker = L.marker([coords[1], coords[0]], {
      icon: L.divIcon({ html: ring, className: 'atlas-cluster', iconSize: [size, size] }),
      title: counted(S.cluster, n),
      keyboard: true
    });
    marker.on('click', function () {
      if (zoomTo) { map.setView([coords[1], coords[0]], Math.min(zoomTo, 19)); return; }
      var zoom = index.getClusterExpansionZoom(c.properties.cluster_id);
      if (zoom <= CLUSTER_MAX_ZOOM) {
        map.setView([coords[1], coords[0]], zoom);
      } else {
        // Entries at one spot (same building): list them instead of zooming for ever.
        var ids = index.getLeaves(c.properties.cluster_id, Infinity).map(function (f) {
          return f.properties.i;
        });
        marker.bindPopup(popupContent(ids)).openPopup();
      }
    });
    return marker;
  }

  function pointMarker(i) {
    var m = points[i];
    var marker = L.marker([m[3], m[2]], { icon: kindIcon(m[1]), title: m[4], keyboard: true });
    marker.atlasIndex = i;
    marker.bindPopup(function () { return popupContent([i]); });
    marker.on('add', function () { marker.getElement().dataset.slug = m[0]; });
    marker.on('popupopen', function () { openMarker = marker; });
    return marker;
  }

  function popupContent(ids) {
    var box = document.createElement('div');
    box.className = 'atlas-popup';
    if (ids.length > 1) {
      var title = document.createElement('p');
      title.className = 'popup-title';
      title.textContent = fmt(S.samePlace, { n: numberFormat.format(ids.length) });
      box.appendChild(title);
    }
    var ul = document.createElement('ul');
    ids.forEach(function (i) {
      var m = points[i];
      var li = document.createElement('li');
      var a = document.createElement('a');
      a.href = entryUrl(m[0]);
      a.textContent = m[4];
      if (cfg.mode === 'embed') { a.target = '_blank'; a.rel = 'noopener'; }
      var kind = document.createElement('span');
      kind.className = 'popup-kind';
      kind.textContent = kinds[m[1]].label;
      li.appendChild(a);
      li.appendChild(document.createTextNode(' '));
      li.appendChild(kind);
      if (origin) {
        var far = document.createElement('span');
        far.className = 'popup-distance';
        far.textContent = ' · ' + distanceText(metresBetween(origin, [m[3], m[2]]));
        li.appendChild(far);
      }
      ul.appendChild(li);
    });
    box.appendChild(ul);
    if (ids.length === 1) fillDetails(box, points[ids[0]][0]);
    return box;
  }

  // One entry's summary and address, asked for when its popup opens (the markers
  // document holds only slug, kind, position and name); then, for a place with hours,
  // whether it is open now and its week in words (the server's words, as on its page).
  function fillDetails(box, slug) {
    var details = document.createElement('div');
    details.className = 'popup-details';
    var opening = document.createElement('p');
    opening.className = 'popup-opening';
    opening.dataset.openingSlot = slug;
    opening.hidden = true;
    box.appendChild(details);
    box.appendChild(opening);
    if (!records[slug]) {
      records[slug] = fetch(cfg.recordUrl.replace('SLUG', encodeURIComponent(slug)), {
        credentials: 'same-origin', headers: { Accept: 'application/json' }
      }).then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      });
      records[slug].catch(function () { delete records[slug]; });
    }
    records[slug].then(function (record) {
      if (record.summary) {
        var summary = document.createElement('p');
        summary.className = 'popup-summary';
        summary.textContent = record.summary;
        details.appendChild(summary);
      }
      var town = [record.postcode, record.city].filter(Boolean).join(' ');
      var address = [record.street, town].filter(Boolean).join(', ');
      if (address) {
        var where = document.createElement('p');
        where.className = 'popup-address';
        where.textContent = address;
        details.appendChild(where);
      }
      if (record.opening_hours) fillOpening(opening, slug);
      box.dataset.loaded = '1';
      refit(box);
      box.dispatchEvent(new CustomEvent('atlas:popup-record', {
        bubbles: true, detail: { slug: slug, record: record, opening: opening }
      }));
    }).catch(function () { box.dataset.loaded = '0'; });
  }

  function fillOpening(slot, slug) {
    fetch(cfg.openingUrl.replace('SLUG', encodeURIComponent(slug)), {
      credentials: 'same-origin', headers: { Accept: 'application/json' }
    }).then(function (response) {
      if (!response.ok) throw new Error('HTTP ' + response.status);
      return response.json();
    }).then(function (opening) {
      var parts = [opening.now, opening.text].filter(Boolean);
      if (!parts.length) return;
      slot.textContent = parts.join(' — ');
      if (opening.state) slot.dataset.state = opening.state;
      slot.hidden = false;
      refit(slot);
    }).catch(function () { /* the page says it; the popup stays without */ });
  }

  // Leaflet sizes and pans a popup when it opens: once its details arrive, again, so the
  // text does not run off the top of the map. Not update(): it would rebuild a popup
  // whose content is a function, and so ask for its details again.
  function refit(element) {
    map.eachLayer(function (layer) {
      if (layer instanceof L.Popup && layer.isOpen() && layer.getElement() &&
          layer.getElement().contains(element) && layer._updateLayout) {
        layer._updateLayout();
        layer._updatePosition();
        layer._adjustPan();
      }
    });
  }

  // Keyboard users land in the popup they opened; Escape closes it and goes back.
  map.on('popupopen', function (event) {
    var opener = document.activeElement;
    var box = event.popup.getElement();
    var link = box.querySelector('.atlas-popup a');
    if (link) link.focus({ preventScroll: true });
    box.addEventListener('keydown', function (key) {
      if (key.key !== 'Escape') return;
      map.closePopup(event.popup);
      if (opener && document.contains(opener)) opener.focus({ preventScroll: true });
    });
  });

  // -- the list of what the view shows ------------------------------------------
  function listInView() {
    if (!list) return;
    var b = map.getBounds();
    var w = b.getWest(), e = b.getEast(), s = b.getSouth(), n = b.getNorth();
    var wide = e - w >= 360;
    var inView = [];
    for (var k = 0; k < byName.length; k++) {
      var m = points[byName[k]];
      if (m[3] >= s && m[3] <= n && (wide || (m[2] >= w && m[2] <= e))) inView.push(byName[k]);
    }
    var distances = null;
    if (origin) {
      distances = {};
      inView.forEach(function (i) {
        distances[i] = metresBetween(origin, [points[i][3], points[i][2]]);
      });
      inView.sort(function (a, b) { return distances[a] - distances[b]; });
    }
    list.dataset.order = origin ? 'distance' : 'name';
    // Cells mode: the clusters' entries are counted, only the lone ones are listed.
    var total = cells ? viewTotal + inView.length : inView.length;
    listCount.textContent = counted(S.inView, total) + (origin ? ' ' + S.byDistance : '');
    var fragment = document.createDocumentFragment();
    inView.slice(0, LIST_MAX).forEach(function (i) {
      fragment.appendChild(listItem(i, distances ? distances[i] : null));
    });
    list.replaceChildren(fragment);
    listMore.hidden = total <= LIST_MAX;
    listMore.textContent = fmt(S.more, { shown: numberFormat.format(LIST_MAX) });
  }

  function listItem(i, metres) {
    var m = points[i];
    var li = document.createElement('li');
    li.dataset.slug = m[0];
    var dot = document.createElement('span');
    dot.className = 'swatch';
    dot.style.backgroundColor = kinds[m[1]].colour;
    dot.setAttribute('aria-hidden', 'true');
    var a = document.createElement('a');
    a.href = entryUrl(m[0]);
    a.textContent = m[4];
    var kind = document.createElement('span');
    kind.className = 'result-kind';
    kind.textContent = kinds[m[1]].label;
    var show = document.createElement('button');
    show.type = 'button';
    show.className = 'show-on-map';
    show.textContent = S.show;
    show.setAttribute('aria-label', fmt(S.showOnMap, { name: m[4] }));
    show.addEventListener('click', function () { showOnMap(i); });
    li.append(dot, a, ' ', kind);
    if (metres !== null && metres !== undefined) {
      var far = document.createElement('span');
      far.className = 'result-distance';
      far.dataset.metres = String(Math.round(metres));
      far.textContent = fmt(S.distanceFrom, { distance: distanceText(metres) });
      li.append(' ', far);
    }
    li.append(show);
    return li;
  }

  function showOnMap(i) {
    var m = points[i];
    map.setView([m[3], m[2]], Math.max(map.getZoom(), CLUSTER_MAX_ZOOM + 1), { animate: false });
    L.popup({ offset: [0, -6] }).setLatLng([m[3], m[2]]).setContent(popupContent([i])).openOn(map);
  }

  function updateFacets(facets) {
    document.querySelectorAll('[data-facet-kind]').forEach(function (span) {
      span.textContent = '(' + numberFormat.format(facets.kind[span.dataset.facetKind] || 0) + ')';
    });
    document.querySelectorAll('option[data-facet-tag]').forEach(function (option) {
      var n = facets.tag[option.dataset.facetTag] || 0;
      option.textContent = option.dataset.label + ' (' + numberFormat.format(n) + ')';
    });
  }

  function updateUnlocated(n, query) {
    if (!unlocatedNote) return;
    unlocatedNote.hidden = !n;
    unlocatedNote.replaceChildren();
    if (!n) return;
    var a = document.createElement('a');
    a.href = cfg.directoryUrl + '?' + (query ? query + '&' : '') + 'located=false';
    a.textContent = S.seeDirectory;
    unlocatedNote.append(counted(S.unlocated, n) + ' ', a);
  }

  function addLegend() {
    var Legend = L.Control.extend({
      onAdd: function () {
        var box = L.DomUtil.create('div', 'atlas-legend');
        var title = document.createElement('p');
        title.className = 'legend-title';
        title.textContent = S.legend;
        box.appendChild(title);
        var ul = document.createElement('ul');
        kinds.forEach(function (kind) {
          var li = document.createElement('li');
          var dot = document.createElement('span');
          dot.className = 'swatch';
          dot.style.backgroundColor = kind.colour;
          li.append(dot, kind.label);
          ul.appendChild(li);
        });
        box.appendChild(ul);
        return box;
      }
    });
    new Legend({ position: 'bottomright' }).addTo(map);
  }

  // -- wiring ----------------------------------------------------------------------
  function fail() {
    el.removeAttribute('aria-busy');
    say(S.loadError);
  }

  function reload(fit) {
    // Around a place, a filter change keeps the view there (and the distance order).
    load(fit && !origin).catch(fail);
    writeUrl();
  }

  var timer = null;
  if (form) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      reload(true);
    });
    form.addEventListener('change', function (event) {
      if (event.target !== qInput) reload(true);
    });
    qInput.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () { reload(true); }, 350);
    });
  }

  var aroundMe = document.getElementById('around-me');
  var me = null;
  function setOrigin(lat, lon, label) {
    origin = [lat, lon];
    el.dataset.origin = lat.toFixed(5) + ',' + lon.toFixed(5);
    if (me) me.remove();
    me = L.circleMarker(origin, { radius: 9, color: '#1a1a1a', weight: 3, fillColor: '#ffffff',
      fillOpacity: 1, interactive: false }).addTo(map);
    map.setView(origin, 15);  // moveend lists the view, by distance
    listInView();
    writeUrl();
    say(label || S.youAreHere);
  }
  // Another script (an address search) sets the origin the same way:
  // el.dispatchEvent(new CustomEvent('atlas:origin', {detail: {lat, lon, label}})).
  el.addEventListener('atlas:origin', function (event) {
    setOrigin(event.detail.lat, event.detail.lon, event.detail.label);
  });
  if (aroundMe && 'geolocation' in navigator) {
    aroundMe.hidden = false;
    aroundMe.addEventListener('click', function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        setOrigin(pos.coords.latitude, pos.coords.longitude);
      }, function () { say(S.geoError); }, { timeout: 15000, maximumAge: 60000 });
    });
  }

  map.on('moveend', function () {
    render();
    writeUrl();
  });

  // The address search (app/web/address_search.py): centres the map, keeps the filters.
  var addressForm = document.getElementById('address-search');
  if (addressForm && cfg.addressSearchUrl) {
    addressForm.hidden = false;
    addressForm.addEventListener('submit', function (event) {
      event.preventDefault();
      var q = addressForm.elements.q.value.trim();
      if (q.length < 3) return;
      fetch(cfg.addressSearchUrl + '?q=' + encodeURIComponent(q),
            { headers: { Accept: 'application/json' } })
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          if (answer.status === 'found' || answer.status === 'low_score') {
            map.setView([answer.lat, answer.lon], 16);
            say((answer.status === 'found' ? S.addressFound : S.addressUncertain)
              .replace('{label}', answer.label || q));
          } else {
            say(answer.status === 'not_found' ? S.addressNotFound : S.addressUnavailable);
          }
        })
        .catch(function () { say(S.addressUnavailable); });
    });
  }

  var start = readHash();
  if (start) map.setView([start.lat, start.lon], start.zoom);
  else map.setView(cfg.center, cfg.zoom);
  say(S.loading);
  load(!start && currentQuery() !== '').then(function () {
    if (!tileErrors) say('');
    else say(S.tilesDown);
  }).catch(fail);
  writeUrl();
}());

function setupCopyButtons() {
  'use strict';
  document.querySelectorAll('[data-copy]').forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      source.select();
      var done = function () { button.textContent = button.dataset.copied || button.textContent; };
      if (navigator.clipboard) navigator.clipboard.writeText(source.value).then(done, done);
      else done();
    });
  });
}
