"""PocketMQ security room: plain ACL as upstream 4.9 (``plain_acl.yml`` accounts, HmacSHA1
request signatures, permission decisions), PocketMQ's additions (a protected name server,
admin-only ACL editing, sensitive config keys), and TLS settings and contexts; used by remoting
servers and clients alike.

Sans-IO: ``signing`` (sign / verify a RemotingCommand), ``credentials`` (SessionCredentials,
tools.yml), ``permission``, ``remote_address`` (white lists), ``access`` (what a request needs), the 5.x clients' gRPC
``authorization`` header in ``signing``,
``plain_acl`` (the accounts and the check; reads its file), ``config_guard``. With I/O:
``server`` (the dispatcher guard, the file-watch poll with an injectable sleep),
``acl_admin`` (request handlers that rewrite plain_acl.yml), ``tls`` (contexts from cert files).

May import: ``pocketmq.remoting``, ``pocketmq.protocol``, ``pocketmq.config`` and
``pocketmq.persist``; never namesrv, store, broker, client, proxy or tools, which import this room.
"""
