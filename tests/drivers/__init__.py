"""Driver tests. A driver's own file tests it against its simulated instrument, mostly on the
in-memory `sim://` port (conftest's `server` fixture), its transports on a real pty and TCP socket.
What every driver does with garbage, silence, a late reply and a vanishing port is tested once,
for all drivers, in test_driver_contract.py (a case each in driver_cases.py)."""
