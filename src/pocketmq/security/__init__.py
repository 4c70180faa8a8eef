"""PocketMQ security room: plain ACL (upstream 4.9's ``plain_acl.yml``, HmacSHA1 request
signatures, permission decisions) for remoting servers and clients alike.

Everything here except ``watch`` is sans-IO: signing a request, parsing the yml, deciding
whether a request is allowed. ``watch`` polls the ACL file with an injected clock.

May import: ``pocketmq.remoting`` (RemotingCommand, codes) and ``pocketmq.protocol`` (request
bodies); nothing from namesrv, store, broker or client, which import this room.
"""
