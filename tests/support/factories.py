"""factory_boy factories for a tenant's rows, for tests that need data the pipelines would
take long to make (a month of traffic, 55 conversations). Call inside a tenant's schema;
everything else is made through the services, as a user would."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from messaging.models import Contact, Conversation, ConversationNote, Message, Sender
from optout.models import ConsentEvent

SENDER_ADDRESS = "+14155550123"


class SenderFactory(DjangoModelFactory):
    class Meta:
        model = Sender
        django_get_or_create = ("address",)

    address = SENDER_ADDRESS
    kind = Sender.Kind.LONG_CODE
    connection = "simulator"
    status = Sender.Status.APPROVED


class ContactFactory(DjangoModelFactory):
    class Meta:
        model = Contact
        django_get_or_create = ("phone",)

    phone = factory.Sequence(lambda n: f"+1415556{n:04d}")


class ConversationFactory(DjangoModelFactory):
    class Meta:
        model = Conversation

    contact = factory.SubFactory(ContactFactory)
    sender = factory.SubFactory(SenderFactory)


class ConversationNoteFactory(DjangoModelFactory):
    class Meta:
        model = ConversationNote

    conversation = factory.SubFactory(ConversationFactory)
    body = "A note for the team"


class MessageFactory(DjangoModelFactory):
    """A customer's text already processed; ``direction="outbound"`` makes a delivered
    staff reply. Addresses follow the conversation's contact and sender."""

    class Meta:
        model = Message

    class Params:
        inbound = factory.LazyAttribute(lambda o: o.direction == Message.Direction.INBOUND)

    conversation = factory.SubFactory(ConversationFactory)
    sender = factory.SelfAttribute("conversation.sender")
    contact = factory.SelfAttribute("conversation.contact")
    direction = Message.Direction.INBOUND
    from_address = factory.LazyAttribute(
        lambda o: o.contact.phone if o.inbound else o.sender.address)
    to_address = factory.LazyAttribute(
        lambda o: o.sender.address if o.inbound else o.contact.phone)
    body = "Hello"
    encoding = "GSM-7"
    segments = 1
    connection = "simulator"
    status = factory.LazyAttribute(lambda o: "processed" if o.inbound else "delivered")
    origin = factory.LazyAttribute(lambda o: "customer" if o.inbound else "user")


class ConsentEventFactory(DjangoModelFactory):
    class Meta:
        model = ConsentEvent

    phone = factory.Sequence(lambda n: f"+1415557{n:04d}")
    action = ConsentEvent.Action.OPT_OUT
    source = ConsentEvent.Source.KEYWORD
