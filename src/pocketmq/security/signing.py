"""Request signatures, as upstream AclClientRPCHook / AclUtils / AclSigner.

The signed content is every ext field except ``Signature``, sorted by key, their values
concatenated (UTF-8), then the body. The signature is HmacSHA1 over it with the secret key,
Base64. A client adds ``AccessKey`` (and ``SecurityToken`` if it has one) before signing and
``Signature`` after. The server leaves ``_UNIQUE_KEY_QUERY`` out of the content as well (as
upstream's PlainAccessValidator does), so a request carrying it never verifies.
"""

from __future__ import annotations

import base64
import hmac

from pocketmq.remoting.command import RemotingCommand
from pocketmq.security.credentials import SessionCredentials

ACCESS_KEY = "AccessKey"
SECRET_KEY = "SecretKey"
SIGNATURE = "Signature"
SECURITY_TOKEN = "SecurityToken"
UNIQUE_MSG_QUERY_FLAG = "_UNIQUE_KEY_QUERY"


def combine_content(fields: dict[str, str] | None, body: bytes, skip: tuple[str, ...] = (SIGNATURE,)) -> bytes:
    """Sorted ext field values (without ``skip`` keys) concatenated, then the body."""
    items = sorted((fields or {}).items())
    text = "".join([value for key, value in items if key not in skip])
    return text.encode("utf-8") + body


def _signature_bytes(content: bytes, secret_key: str) -> bytes:
    return base64.b64encode(hmac.digest(secret_key.encode("utf-8"), content, "sha1"))


def calc_signature(content: bytes, secret_key: str) -> str:
    return _signature_bytes(content, secret_key).decode("ascii")


def server_content(request: RemotingCommand) -> bytes:
    """What a server verifies a request's signature over."""
    return combine_content(request.ext_fields, request.body_bytes(), (SIGNATURE, UNIQUE_MSG_QUERY_FLAG))


def signature_matches(request: RemotingCommand, secret_key: str) -> bool:
    given = request.field(SIGNATURE)
    if given is None:
        return False
    expected = _signature_bytes(server_content(request), secret_key)
    return hmac.compare_digest(expected, given.encode("utf-8", "surrogatepass"))


def sign_request(request: RemotingCommand, credentials: SessionCredentials) -> None:
    """Add AccessKey, SecurityToken and Signature to a request about to be sent (the client hook)."""
    fields = request.ext_fields
    if fields is None:
        fields = request.ext_fields = {}
    else:
        for key, value in list(fields.items()):
            if value is None:  # never sent, so never signed (Java's makeCustomHeaderToNet skips nulls)
                del fields[key]
            elif not isinstance(value, str):
                fields[key] = _java_text(value)
    fields[ACCESS_KEY] = credentials.access_key
    if credentials.security_token is not None:
        fields[SECURITY_TOKEN] = credentials.security_token
    fields.pop(SIGNATURE, None)
    fields[SIGNATURE] = calc_signature(combine_content(fields, request.body_bytes()), credentials.secret_key)


def _java_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------------------- gRPC (5.x clients)
# The official 5.x clients sign every call with the ``x-mq-date-time`` header: ``authorization``
# is ``MQv2-HMAC-SHA1 Credential=<accessKey>, SignedHeaders=x-mq-date-time, Signature=<hex>``
# where the signature is HmacSHA1(secretKey, dateTime) in hex (upstream AuthorizationHeader).
GRPC_DATE_TIME = "x-mq-date-time"
GRPC_AUTHORIZATION = "authorization"


class BadAuthorization(Exception):
    """An ``authorization`` header that cannot be read."""


def parse_grpc_authorization(header: str) -> tuple[str, str]:
    """(access key, hex signature) of an ``authorization`` header, as upstream's parse."""
    method, sep, rest = header.partition(" ")
    if not sep or not method:
        raise BadAuthorization("authorization header is incorrect")
    access_key = signature = ""
    for item in rest.split(","):
        key, eq, value = item.strip().partition("=")
        if not eq:
            raise BadAuthorization("authorization keyValues length is incorrect")
        if key == "Credential":
            access_key = value.split("/")[0]
        elif key == "Signature":
            signature = value
    return access_key, signature


def grpc_signature(secret_key: str, date_time: str) -> str:
    return hmac.digest(secret_key.encode("utf-8"), date_time.encode("utf-8"), "sha1").hex()


def grpc_signature_matches(signature_hex: str, secret_key: str, date_time: str) -> bool:
    """Hex is compared case-blind (upstream decodes it to bytes first)."""
    return hmac.compare_digest(grpc_signature(secret_key, date_time), signature_hex.lower())
