"""The stored property string of an ordinary message, made by string edits: shared by the send
processor and the remoting workers (broker.remoting_worker), which prepare sends before the store
process sees them."""

from __future__ import annotations

from pocketmq.protocol import message as m

_WAIT_TRUE = m.PROPERTY_WAIT_STORE_MSG_OK + m.NAME_VALUE_SEPARATOR + "true"
_SEP = m.PROPERTY_SEPARATOR


def ordinary_stored_properties(text: str, cluster_pair: str) -> str | None:
    """The stored properties of an ordinary message, by string edits instead of a parse and a
    re-encode (the common case on the send path): ``WAIT=true`` dropped, ``CLUSTER`` appended.
    None when the message needs the full property map: transactional, ``WAIT=false``, a
    ``CLUSTER`` of its own, or an unusual layout."""
    if text.startswith(_WAIT_TRUE + _SEP):
        text = text[len(_WAIT_TRUE) + 1:]
    elif text == _WAIT_TRUE:
        text = ""
    else:
        i = text.find(_SEP + _WAIT_TRUE + _SEP)
        if i >= 0:
            text = text[:i + 1] + text[i + 2 + len(_WAIT_TRUE):]
        elif text.endswith(_SEP + _WAIT_TRUE):
            text = text[:-len(_WAIT_TRUE) - 1]
    if "WAIT\x01" in text or "TRAN_MSG\x01" in text or "CLUSTER\x01" in text:
        return None
    if text and not text.endswith(_SEP):
        text += _SEP
    return text + cluster_pair
