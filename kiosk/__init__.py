"""The customer screen (Kivy): renders the lane state from the cashier bridge, sends intents."""

# Exit status of a kiosk that staff left with the exit PIN: its systemd unit must not restart it
# (RestartPreventExitStatus=10); every other exit, a crash included, is restarted.
EXIT_LEFT_KIOSK = 10
