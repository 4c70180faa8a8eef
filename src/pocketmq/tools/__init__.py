"""PocketMQ tools room."""
