"""pystator: configuration-driven statecharts with a pure, stateless engine."""
