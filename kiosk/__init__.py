"""The customer screen (Kivy): renders the lane state from the cashier bridge, sends intents."""
