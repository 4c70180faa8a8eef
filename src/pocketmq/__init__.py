"""PocketMQ: Apache RocketMQ's architecture and wire protocol, in Python."""

__version__ = "0.1.0"

# The RocketMQ version ordinal PocketMQ speaks as (MQVersion.Version.V4_9_8).
ROCKETMQ_VERSION = 409
ROCKETMQ_VERSION_DESC = "V4_9_8"
