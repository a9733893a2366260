"""CAMARA ShortMessageService over the portal's own services: ``POST
/sms/v0alpha1/short-message`` (validation, approved senders, opt-outs, segments as for
/api/v1), delivery-status subscriptions as r0.1 defines them, and the received-SMS
subscriptions of the Receive SMS proposal, notified as CloudEvents. The contract, and what
is ours rather than CAMARA's: docs/CAMARA.md."""
