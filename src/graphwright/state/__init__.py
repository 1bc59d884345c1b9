"""State field specs compiled to a Pydantic model with LangGraph reducers."""

from graphwright.state.model import CompiledState, compile_state
from graphwright.state.reducers import REDUCERS, reducer_accepts

__all__ = ["REDUCERS", "CompiledState", "compile_state", "reducer_accepts"]
