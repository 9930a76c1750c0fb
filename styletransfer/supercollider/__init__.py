"""The SuperCollider engine: plans played by scsynth through the SynthDefs in ``sc/``.

- `osc`: the OSC commands, encoded without a server (byte-exact, testable);
- `server`: a client for a running scsynth (replies, failures, notifications);
- `process`: finding, starting and stopping scsynth (and a dummy JACK server);
- `compile`: compiling the SynthDef sources with sclang, headless;
- `score`: a RenderPlan as timed OSC commands, shared by offline and live rendering;
- `nrt`: offline rendering with ``scsynth -N``;
- `live`: streaming a plan to a running server, and styling its live input.
"""
