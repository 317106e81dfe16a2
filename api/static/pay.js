// Pay an invoice by card: Stripe.js saves the card (SetupIntent), then our API charges it through the
// invoice's payment workflow and answers with a French message. Works with Stripe and localstripe.
(function () {
  'use strict';
  var form = document.getElementById('paiement-carte');
  if (!form || typeof window.Stripe !== 'function') { return; }
  var number = form.dataset.number;
  var amount = parseInt(form.dataset.amount, 10);
  var button = document.getElementById('payer');
  var message = document.getElementById('paiement-message');
  var base = '/api/family/invoices/' + encodeURIComponent(number);
  var stripe = null;
  var card = null;

  function say(text, kind) {
    message.textContent = text;
    message.className = 'pay-message' + (kind ? ' is-' + kind : '');
    if (kind === 'error') {
      // the button the user pressed is disabled meanwhile: without this the focus falls back to <body>
      message.setAttribute('role', 'alert');
      message.setAttribute('tabindex', '-1');
      message.focus();
    } else {
      message.setAttribute('role', 'status');
      message.removeAttribute('tabindex');
    }
  }

  async function post(url, body) {
    var response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
      body: JSON.stringify(body || {})
    });
    var data = await response.json().catch(function () { return {}; });
    if (!response.ok) {
      var text = (data.error && data.error.message) || 'Le paiement n\u2019a pas pu aboutir. Réessayez plus tard.';
      throw new Error(text);
    }
    return data;
  }

  async function prepare() {
    try {
      var setup = await post(base + '/card/setup');
      stripe = window.Stripe(setup.publishable_key);
      card = stripe.elements().create('card', {hidePostalCode: true});
      card.mount('#carte-element');
      form.dataset.secret = setup.client_secret;
      button.disabled = false;
    } catch (err) {
      say(err.message, 'error');
    }
  }

  async function pay(event) {
    event.preventDefault();
    button.disabled = true;
    say('Paiement en cours\u2026');
    try {
      var result = await stripe.confirmCardSetup(form.dataset.secret, {payment_method: {card: card}});
      if (result.error) {
        throw new Error('Carte non enregistrée : vérifiez le numéro, la date d\u2019expiration et le cryptogramme.');
      }
      var pm = result.setupIntent.payment_method;
      var outcome = await post(base + '/card', {
        payment_method_id: typeof pm === 'string' ? pm : pm.id,
        amount_cents: amount
      });
      if (outcome.status === 'succeeded') {
        say(outcome.message_fr || 'Paiement accepté.', 'success');
        window.location.assign(window.location.pathname + '?paye=1');
        return;
      }
      say(outcome.message_fr || 'Paiement refusé.', outcome.status === 'pending' ? '' : 'error');
    } catch (err) {
      say(err.message, 'error');
    }
    // a new SetupIntent for the next try (one per confirmation)
    try {
      var again = await post(base + '/card/setup');
      form.dataset.secret = again.client_secret;
      button.disabled = false;
    } catch (err) {
      say(err.message, 'error');
    }
  }

  form.addEventListener('submit', pay);
  prepare();
})();
