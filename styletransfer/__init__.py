"""styletransfer: music style transfer and sound synthesis in the wavelet domain.

Examples
--------
>>> import styletransfer as st
>>> y, sr = st.load("content.wav")                                   # doctest: +SKIP
>>> style = st.load("style.flac", sr=sr)                             # doctest: +SKIP
>>> out, plan = st.transfer(y, sr, [style], settings=st.Settings(mode="mosaic"))  # doctest: +SKIP
>>> st.write("styled.wav", out, sr)                                  # doctest: +SKIP
"""

from .analysis import Analysis, analyse, synthesise
from .audio import load, write
from .engine_numpy import render
from .errors import EngineError, ParameterError
from .mapping import Mapping, map_content
from .model import StyleModel
from .plan import PlanFrame, RenderPlan
from .presets import load_preset
from .settings import Settings
from .transfer import learn, plan_transfer, transfer

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "EngineError",
    "Mapping",
    "ParameterError",
    "PlanFrame",
    "RenderPlan",
    "Settings",
    "StyleModel",
    "analyse",
    "learn",
    "load",
    "load_preset",
    "map_content",
    "plan_transfer",
    "render",
    "synthesise",
    "transfer",
    "write",
]
