"""PocketMQ remoting room."""
