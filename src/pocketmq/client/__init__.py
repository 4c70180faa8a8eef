"""PocketMQ's Python client for RocketMQ 4.x clusters (PocketMQ or Apache RocketMQ).

asyncio at the core (``AsyncProducer``, ``AsyncPushConsumer``, ``AsyncLitePullConsumer``,
``AsyncTransactionProducer``, ``admin.AsyncAdmin``) with synchronous facades for plain scripts
(``Producer``, ``PushConsumer``, ``LitePullConsumer``, ``TransactionProducer``, ``admin.Admin``).
Name servers come from the ``namesrv_addr`` argument or ``NAMESRV_ADDR``. With ACL on, pass
``credentials=SessionCredentials(access_key, secret_key)``: every request is then signed.
"""

from pocketmq.client.allocate import AllocateAveragely, AllocateAveragelyByCircle, AllocateConsistentHash
from pocketmq.client.config import ClientConfig
from pocketmq.client.consumer import (
    AsyncPushConsumer, ConsumeContext, ConsumeOrderlyContext, ConsumeOrderlyStatus, ConsumeStatus, PushConsumer,
)
from pocketmq.client.errors import MQBrokerError, MQClientError
from pocketmq.client.lite_pull import AsyncLitePullConsumer, LitePullConsumer
from pocketmq.client.message import Message, MessageExt, MessageQueue, SendResult, SendStatus, message_id
from pocketmq.client.producer import (
    AsyncProducer, AsyncTransactionProducer, LocalTransactionState, Producer, TransactionProducer,
    TransactionSendResult, select_by_hash, select_random,
)
from pocketmq.client.rebalance import ConsumeFromWhere, MessageModel
from pocketmq.security.credentials import SessionCredentials

__all__ = [
    "AllocateAveragely", "AllocateAveragelyByCircle", "AllocateConsistentHash", "AsyncLitePullConsumer",
    "AsyncProducer", "AsyncPushConsumer", "AsyncTransactionProducer", "ClientConfig", "ConsumeContext",
    "ConsumeFromWhere", "ConsumeOrderlyContext", "ConsumeOrderlyStatus", "ConsumeStatus", "LitePullConsumer",
    "LocalTransactionState", "MQBrokerError", "MQClientError", "Message", "MessageExt", "MessageModel",
    "MessageQueue", "Producer", "PushConsumer", "SendResult", "SendStatus", "SessionCredentials", "TransactionProducer",
    "TransactionSendResult", "message_id", "select_by_hash", "select_random",
]
