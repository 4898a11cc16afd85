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
