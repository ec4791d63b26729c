"""Loading and validating machine definitions (YAML, JSON, dicts) with located errors."""

from pystator.config.dump import dump_spec, spec_to_dict
from pystator.config.loader import implicit_trigger, load_spec, timeout_trigger
from pystator.config.schema import machine_json_schema

__all__ = [
    "dump_spec",
    "implicit_trigger",
    "load_spec",
    "machine_json_schema",
    "spec_to_dict",
    "timeout_trigger",
]
