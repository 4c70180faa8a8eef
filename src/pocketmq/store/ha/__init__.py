"""Master/slave replication of the commit log (upstream store/ha, 4.x default mode).

``protocol`` is the wire format, sans-IO; ``service`` is the master side (HA port, one
connection per slave, the SYNC_MASTER replication waiter); ``client`` is the slave side.
"""

from pocketmq.store.ha.client import HAClient
from pocketmq.store.ha.service import HAService

__all__ = ["HAClient", "HAService"]
