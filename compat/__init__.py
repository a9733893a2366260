"""API dialects of other platforms over the portal's own services: code written against
them works here by changing a base URL. ``compat.twilio`` speaks Twilio's REST API
(2010-04-01 Messages and IncomingPhoneNumbers, v1 Messaging Services), its webhooks and
TwiML; ``compat.public`` holds what the public host must look up before it knows the
tenant. See docs/TWILIO.md."""
