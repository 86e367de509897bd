"""The pure engine of the embedded exchange (no I/O, no wall clock; deterministic for a seed and
scenario). See /work/notes/sim_contract.md for the facade contract."""
from connectors.sim.config import SimVenueConfig
from connectors.sim.engine.errors import BinanceError
from connectors.sim.engine.exchange import Event, Exchange
from connectors.sim.engine.params import EngineParams
from connectors.sim.engine.scenario import Scenario, load_scenario

__all__ = ["BinanceError", "EngineParams", "Event", "Exchange", "Scenario", "SimVenueConfig",
           "load_scenario"]
