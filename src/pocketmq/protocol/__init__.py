"""PocketMQ protocol room."""
