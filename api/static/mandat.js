// Sign a SEPA mandate: Stripe.js confirms the SetupIntent with the IBAN the server already checked, then the
// form posts the SetupIntent id, which the server verifies with Stripe before recording the mandate.
(function () {
  'use strict';
  var form = document.getElementById('signature-mandat');
  if (!form || typeof window.Stripe !== 'function') { return; }
  var button = document.getElementById('signer');
  var message = document.getElementById('mandat-message');
  var stripe = window.Stripe(form.dataset.key);
  var confirmed = false;

  function say(text, kind) {
    message.textContent = text;
    message.className = 'pay-message' + (kind ? ' is-' + kind : '');
  }

  async function sign(event) {
    if (confirmed) { return; }
    event.preventDefault();
    button.disabled = true;
    say('Signature en cours\u2026');
    var result = await stripe.confirmSepaDebitSetup(form.dataset.secret, {
      payment_method: {
        sepa_debit: {iban: form.dataset.iban},
        billing_details: {name: form.dataset.holder, email: form.dataset.email}
      }
    });
    if (result.error || !result.setupIntent) {
      say('La banque n\u2019a pas accepté ce mandat. Vérifiez l\u2019IBAN et recommencez.', 'error');
      return;
    }
    document.getElementById('setup_intent_id').value = result.setupIntent.id;
    confirmed = true;
    form.submit();
  }

  form.addEventListener('submit', sign);
  button.disabled = false;
})();
