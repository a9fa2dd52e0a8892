"""The service layer: commands, queries and their handlers, the message bus, access policy.

Between the web/API above and the persistence layer and engine core below. Build a bus with
`services.domain.bus.bootstrap(session_factory)` and send it commands (services.domain.commands)
and queries (services.domain.queries).
"""
