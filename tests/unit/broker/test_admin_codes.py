"""Every request code the official 4.9.7 client library (MQClientAPIImpl, which DefaultMQAdminExt
and mqadmin use) sends to a broker or a name server has a handler in PocketMQ, except the ones
listed below with the reason. The list was read from rocketmq-client 4.9.7's MQClientAPIImpl."""

from __future__ import annotations

from pocketmq.broker.controller import BrokerController
from pocketmq.config import BrokerConfig, MessageStoreConfig, NamesrvConfig
from pocketmq.namesrv.controller import NamesrvController

# RequestCode.* used in org.apache.rocketmq.client.impl.MQClientAPIImpl (4.9.7), by value.
CLIENT_CODES = {
    "ADD_WRITE_PERM_OF_BROKER": 327, "CHECK_CLIENT_CONFIG": 46, "CHECK_TRANSACTION_STATE": 39,
    "CLEAN_EXPIRED_CONSUMEQUEUE": 306, "CLEAN_UNUSED_TOPIC": 316, "CLONE_GROUP_OFFSET": 314,
    "CONSUMER_SEND_MSG_BACK": 36, "CONSUME_MESSAGE_DIRECTLY": 309, "DELETE_ACL_CONFIG": 51,
    "DELETE_EXPIRED_COMMITLOG": 329, "DELETE_KV_CONFIG": 102, "DELETE_SUBSCRIPTIONGROUP": 207,
    "DELETE_TOPIC_IN_BROKER": 215, "DELETE_TOPIC_IN_NAMESRV": 216, "END_TRANSACTION": 37,
    "GET_ALL_PRODUCER_INFO": 328, "GET_ALL_SUBSCRIPTIONGROUP_CONFIG": 201, "GET_ALL_TOPIC_CONFIG": 21,
    "GET_ALL_TOPIC_LIST_FROM_NAMESERVER": 206, "GET_BROKER_CLUSTER_ACL_CONFIG": 54,
    "GET_BROKER_CLUSTER_ACL_INFO": 52, "GET_BROKER_CLUSTER_INFO": 106, "GET_BROKER_CONFIG": 26,
    "GET_BROKER_CONSUME_STATS": 317, "GET_BROKER_RUNTIME_INFO": 28, "GET_CONSUMER_CONNECTION_LIST": 203,
    "GET_CONSUMER_LIST_BY_GROUP": 38, "GET_CONSUMER_RUNNING_INFO": 307, "GET_CONSUMER_STATUS_FROM_CLIENT": 221,
    "GET_CONSUME_STATS": 208, "GET_EARLIEST_MSG_STORETIME": 32, "GET_HAS_UNIT_SUB_TOPIC_LIST": 312,
    "GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST": 313, "GET_KVLIST_BY_NAMESPACE": 219, "GET_KV_CONFIG": 101,
    "GET_MAX_OFFSET": 30, "GET_MIN_OFFSET": 31, "GET_NAMESRV_CONFIG": 319, "GET_PRODUCER_CONNECTION_LIST": 204,
    "GET_ROUTEINFO_BY_TOPIC": 105, "GET_SYSTEM_TOPIC_LIST_FROM_BROKER": 305, "GET_SYSTEM_TOPIC_LIST_FROM_NS": 304,
    "GET_TOPICS_BY_CLUSTER": 224, "GET_TOPIC_STATS_INFO": 202, "GET_UNIT_TOPIC_LIST": 311, "HEART_BEAT": 34,
    "INVOKE_BROKER_TO_GET_CONSUMER_STATUS": 223, "INVOKE_BROKER_TO_RESET_OFFSET": 222, "LOCK_BATCH_MQ": 41,
    "NOTIFY_CONSUMER_IDS_CHANGED": 40, "PULL_MESSAGE": 11, "PUSH_REPLY_MESSAGE_TO_CLIENT": 326, "PUT_KV_CONFIG": 100,
    "QUERY_CONSUMER_OFFSET": 14, "QUERY_CONSUME_QUEUE": 321, "QUERY_CONSUME_TIME_SPAN": 303,
    "QUERY_CORRECTION_OFFSET": 308, "QUERY_MESSAGE": 12, "QUERY_TOPIC_CONSUME_BY_WHO": 300,
    "REGISTER_MESSAGE_FILTER_CLASS": 302, "RESET_CONSUMER_CLIENT_OFFSET": 220, "RESUME_CHECK_HALF_MESSAGE": 323,
    "SEARCH_OFFSET_BY_TIMESTAMP": 29, "SEND_BATCH_MESSAGE": 320, "SEND_MESSAGE": 10, "SEND_MESSAGE_V2": 310,
    "SEND_REPLY_MESSAGE": 324, "SEND_REPLY_MESSAGE_V2": 325, "UNLOCK_BATCH_MQ": 42, "UNREGISTER_CLIENT": 35,
    "UPDATE_AND_CREATE_ACL_CONFIG": 50, "UPDATE_AND_CREATE_SUBSCRIPTIONGROUP": 200, "UPDATE_AND_CREATE_TOPIC": 17,
    "UPDATE_BROKER_CONFIG": 25, "UPDATE_CONSUMER_OFFSET": 15, "UPDATE_GLOBAL_WHITE_ADDRS_CONFIG": 53,
    "UPDATE_NAMESRV_CONFIG": 318, "VIEW_BROKER_STATS_DATA": 315, "VIEW_MESSAGE_BY_ID": 33,
    "WIPE_WRITE_PERM_OF_BROKER": 205,
}

NOT_HANDLED = {
    # sent by a broker to a client, handled by the client
    "CHECK_TRANSACTION_STATE": "broker -> producer", "NOTIFY_CONSUMER_IDS_CHANGED": "broker -> consumer",
    "RESET_CONSUMER_CLIENT_OFFSET": "broker -> consumer", "GET_CONSUMER_STATUS_FROM_CLIENT": "broker -> consumer",
    "PUSH_REPLY_MESSAGE_TO_CLIENT": "broker -> requester",
    # not yet in PocketMQ
    "SEND_REPLY_MESSAGE": "request-reply (DefaultMQProducer.request) is not implemented",
    "SEND_REPLY_MESSAGE_V2": "request-reply (DefaultMQProducer.request) is not implemented",
    # not a broker or name server request in 4.9.7 either
    "REGISTER_MESSAGE_FILTER_CLASS": "the filter server's, removed upstream",
}


def test_every_client_request_code_has_a_handler(tmp_path):
    broker = BrokerController(BrokerConfig(brokerName="b", brokerIP1="127.0.0.1", namesrvAddr=""),
                              MessageStoreConfig(storePathRootDir=str(tmp_path / "store")))
    namesrv = NamesrvController(NamesrvConfig(kvConfigPath=str(tmp_path / "kv.json")))
    handled = set(broker.dispatcher.handlers) | set(broker.fast_dispatcher.handlers) | set(namesrv.dispatcher.handlers)
    refused = {name for name, code in CLIENT_CODES.items() if code not in handled}
    assert refused == set(NOT_HANDLED)
