// The portal's emailed sign-in, which talks to the JSON API: the login page
// asks for a link (POST /api/v1/portal/sign-in-links); the page the link
// opens signs in (POST /api/v1/portal/sign-ins) and then offers to set a
// password (PUT /api/v1/portal/password with the session as a Bearer token).
(function () {
  'use strict';

  // call sends body as JSON and resolves to {status, body} (body {} when
  // the answer has none).
  function call(method, path, body, token) {
    var headers = { 'Content-Type': 'application/json', 'Accept': 'application/json' };
    if (token) { headers.Authorization = 'Bearer ' + token; }
    return fetch(path, { method: method, headers: headers, body: JSON.stringify(body), credentials: 'same-origin' })
      .then(function (r) {
        return r.text().then(function (t) {
          var b = {};
          try { b = t ? JSON.parse(t) : {}; } catch (e) { b = {}; }
          return { status: r.status, body: b };
        });
      });
  }

  // clear hides the form's error messages.
  function clear(form) {
    var els = form.querySelectorAll('[data-field], [data-form-error]');
    for (var i = 0; i < els.length; i++) { els[i].hidden = true; }
    var inputs = form.querySelectorAll('[aria-invalid]');
    for (var j = 0; j < inputs.length; j++) { inputs[j].removeAttribute('aria-invalid'); }
  }

  // showField shows text as the error of field name.
  function showField(form, name, text) {
    var el = form.querySelector('[data-field="' + name + '"]');
    var input = form.querySelector('[name="' + name + '"]');
    if (input) { input.setAttribute('aria-invalid', 'true'); }
    if (!el) { return false; }
    el.textContent = text;
    el.hidden = false;
    return true;
  }

  // showError shows what an API answer says went wrong.
  function showError(form, answer) {
    var err = answer.body && answer.body.error ? answer.body.error : {};
    var shown = false;
    var fields = err.fields || {};
    for (var name in fields) {
      if (Object.prototype.hasOwnProperty.call(fields, name)) {
        shown = showField(form, name, fields[name]) || shown;
      }
    }
    if (shown) { return; }
    var box = form.querySelector('[data-form-error]');
    // The page gives these texts in its language (the API answers in it too).
    var generic = box.getAttribute('data-msg-generic') || 'Something went wrong on our side. Please try again in a moment.';
    var text = err.message || generic;
    if (answer.status === 429) { text = box.getAttribute('data-msg-busy') || 'Too many attempts; try again later.'; }
    if (answer.status >= 500 || answer.status === 0) { text = generic; }
    box.querySelector('p').textContent = text;
    box.hidden = false;
  }

  // handle makes form send its fields through the API instead of
  // navigating; done gets each successful answer.
  function handle(form, fields, done) {
    form.hidden = false;
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      clear(form);
      var body = fields();
      if (!body) { return; }
      var button = form.querySelector('button[type=submit]');
      button.disabled = true;
      call(form.getAttribute('data-method') || 'POST', form.getAttribute('action'), body, form.token)
        .then(function (answer) {
          if (answer.status >= 200 && answer.status < 300) { done(answer); } else { showError(form, answer); }
        }, function () { showError(form, { status: 0, body: {} }); })
        .then(function () { button.disabled = false; });
    });
  }

  var linkForm = document.getElementById('sign-in-link-form');
  if (linkForm) {
    handle(linkForm, function () {
      return { email: linkForm.elements.email.value };
    }, function () {
      linkForm.hidden = true;
      document.getElementById('sign-in-link-sent').hidden = false;
    });
  }

  var signIn = document.getElementById('sign-in-form');
  var passwordForm = document.getElementById('password-form');
  if (signIn && passwordForm) {
    handle(signIn, function () {
      return { token: signIn.elements.token.value };
    }, function (answer) {
      // The link is used up: keep it out of the address bar and history.
      if (window.history.replaceState) { window.history.replaceState(null, '', '/portal/sign-in'); }
      passwordForm.token = answer.body.token;
      var heading = document.getElementById('password-heading');
      heading.textContent = heading.getAttribute(answer.body.has_password ? 'data-change' : 'data-set');
      document.getElementById('sign-in-step').hidden = true;
      document.getElementById('password-step').hidden = false;
      passwordForm.elements.password.focus();
    });
    handle(passwordForm, function () {
      var pw = passwordForm.elements.password.value;
      if (pw !== passwordForm.elements.password_confirm.value) {
        showField(passwordForm, 'password_confirm', passwordForm.getAttribute('data-msg-mismatch') || 'does not match the password');
        return null;
      }
      return { password: pw };
    }, function () {
      passwordForm.hidden = true;
      document.getElementById('password-saved').hidden = false;
    });
  }
})();
