"""PocketMQ store room."""
