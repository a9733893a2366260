"""API dialects of other platforms over the portal's own services: code written against
them works here by changing a base URL. ``compat.camara`` speaks CAMARA's
ShortMessageService (sending, delivery-status and received-SMS subscriptions as
CloudEvents; docs/CAMARA.md)."""
