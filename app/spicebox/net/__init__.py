"""asyncio transports around the sans-IO channels."""
