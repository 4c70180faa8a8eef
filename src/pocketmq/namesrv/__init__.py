"""PocketMQ namesrv room."""
