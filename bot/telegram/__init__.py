"""The Telegram adapter: handlers, keyboards and the Application builder."""
