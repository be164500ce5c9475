"""The fixed values options take, as Enums: click checks them, help lists them, completion offers them.

Written out here rather than built from the modules that define them (webhooks.schemes, webhooks.events):
importing those costs every `whatsable --help`; a test keeps the two in step.
"""

from enum import StrEnum


class SignScheme(StrEnum):
    """What send-test and replay sign with."""

    WHATSABLE_HMAC = "whatsable-hmac"
    WHATSABLE_STATIC = "whatsable-static"
    STANDARD = "standard"
    SVIX = "svix"
    WHATSABLE = "whatsable"  # an alias of whatsable-hmac


class VerifyScheme(StrEnum):
    """What listen, verify and doctor check with; auto picks whichever the request's headers fit."""

    AUTO = "auto"
    WHATSABLE_HMAC = "whatsable-hmac"
    WHATSABLE_STATIC = "whatsable-static"
    STANDARD = "standard"
    SVIX = "svix"
    WHATSABLE = "whatsable"


class Display(StrEnum):
    """`listen --output`."""

    PRETTY = "pretty"
    COMPACT = "compact"
    JSON = "json"
    QUIET = "quiet"


class Respond(StrEnum):
    """`listen --respond`: what the sender gets while forwarding."""

    RELAY = "relay"
    ALWAYS_200 = "200"


class EventType(StrEnum):
    """What send-test --event sends: the envelope's event types, and (flat family only) an outgoing message."""

    MESSAGE_STATUS = "message_status"
    INCOMING_MESSAGE = "incoming_message"
    OUTGOING_MESSAGE = "outgoing_message"


class EventKind(StrEnum):
    """What a received body can be classified as: the filters of listen, events and replay (--event)."""

    MESSAGE_STATUS = "message_status"
    INCOMING_MESSAGE = "incoming_message"
    OUTGOING_MESSAGE = "outgoing_message"
    UNKNOWN = "unknown"
    NOT_JSON = "not_json"


class Status(StrEnum):
    """A message_status event's `data.status`."""

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class ContentType(StrEnum):
    """An incoming_message event's content type (and, flat family only, a message from a Click-to-WhatsApp ad)."""

    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    LOCATION = "location"
    AD_REFERRAL = "ad_referral"


class PayloadFamily(StrEnum):
    """--format: which of WhatsAble's two payload families (webhooks.events.PayloadFormat)."""

    ENVELOPE = "envelope"
    FLAT = "flat"


def values(choices: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in choices)


def one_of(choices: type[StrEnum]) -> str:
    """The values for an option's help: a word stands in the type column (a long `<a|b|c>` would wrap there
    at 80 columns), and the help says what the word can be."""
    return "One of: " + ", ".join(values(choices)) + "."
