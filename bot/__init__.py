"""Resource-focused work-supervision reflection bot for Telegram."""
