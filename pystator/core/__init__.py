"""Import paths kept from pystator 0.0.1 (``pystator.core.state_store``)."""
