"""PocketMQ broker room."""
