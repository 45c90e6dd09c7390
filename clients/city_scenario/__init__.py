"""The city scenario (``acionar sim city``): calls arrive over a São Paulo day,
automatic dispatch answers them while simulated providers answer offers, and the
dispatch outcomes are measured, once with the configured ranking and once with the
nearest provider only, on the same seed (docs/simulator.md, "City scenario")."""
