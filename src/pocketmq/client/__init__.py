"""PocketMQ client room."""
