"""The Twilio dialect: Twilio's REST API 2010-04-01 (Messages, IncomingPhoneNumbers) and
v1 Messaging Services, status callbacks and ``SmsUrl`` webhooks signed with
``X-Twilio-Signature``, and TwiML answers, over the portal's own services (validation,
opt-outs, approvals, segments, statuses). The contract and what differs from Twilio:
docs/TWILIO.md."""
