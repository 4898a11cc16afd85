// The request form without JavaScript shows every field; with it, the state
// select appears only for countries whose subdivisions change the law.
(function () {
  'use strict';
  var country = document.getElementById('country');
  var field = document.getElementById('region-field');
  var region = document.getElementById('region');
  if (!country || !field || !region) { return; }
  function update() {
    var groups = region.querySelectorAll('optgroup');
    var any = false;
    for (var i = 0; i < groups.length; i++) {
      var on = groups[i].getAttribute('data-country') === country.value;
      groups[i].disabled = !on;
      groups[i].hidden = !on;
      any = any || on;
    }
    field.hidden = !any;
    if (!any) { region.value = ''; }
    else if (region.value && region.value.indexOf(country.value + '-') !== 0) { region.value = ''; }
  }
  country.addEventListener('change', update);
  update();
})();

// An error in the summary above the form links to its field: following the
// link (by keyboard too) puts the focus in the field, not only the view on it.
(function () {
  'use strict';
  var summary = document.getElementById('form-message');
  if (!summary) { return; }
  summary.addEventListener('click', function (ev) {
    var link = ev.target.closest('a[href^="#"]');
    var target = link && document.getElementById(link.getAttribute('href').slice(1));
    if (!target) { return; }
    var field = target.matches('input, select, textarea') ? target
      : target.querySelector('input:not([type=hidden]):not([disabled]), select, textarea');
    if (!field) { return; }
    ev.preventDefault();
    field.focus();
    // Enter follows a link on its keydown; its keypress then reaches the
    // field, where it would submit the form. It is the link's: drop it.
    if (ev.detail === 0) {
      field.addEventListener('keypress', function (k) { if (k.key === 'Enter') { k.preventDefault(); } }, {once: true});
    }
  });
})();

// Where the law forbids requiring proof of identity for a request (a
// California opt-out or do-not-sell request), the document field goes and a
// note says why. The server reads the same jurisdiction table, given here in
// its order: a rule naming the state wins over one naming the country.
(function () {
  'use strict';
  var field = document.getElementById('document-field');
  var note = document.getElementById('no-document');
  var input = document.getElementById('identity_document');
  var country = document.getElementById('country');
  var region = document.getElementById('region');
  var type = document.getElementById('request_type');
  if (!field || !note || !input || !country || !region || !type) { return; }
  var rules;
  try { rules = JSON.parse(field.getAttribute('data-no-document-rules') || '[]'); } catch (e) { return; }
  function has(list, v) { return (list || []).indexOf(v) >= 0; }
  function match() {
    var i;
    if (region.value) {
      for (i = 0; i < rules.length; i++) { if (has(rules[i].regions, region.value)) { return rules[i]; } }
    }
    for (i = 0; i < rules.length; i++) { if (has(rules[i].countries, country.value)) { return rules[i]; } }
    return null;
  }
  function update() {
    var rule = match();
    var none = !!rule && has(rule.types, type.value);
    field.hidden = none;
    note.hidden = !none;
    input.required = !none;
    input.disabled = none;
  }
  [country, region, type].forEach(function (el) { el.addEventListener('change', update); });
  update();
})();
