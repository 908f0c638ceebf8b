"""The cashier console: a web page served by the bridge that *is* a lane's register.

A browser signs in once with a one-time code (``selfreg-bridge pair --role register`` prints it)
and becomes a paired register of its own, its token kept in an HttpOnly cookie.  The page speaks
the register's websocket protocol and the REST API with that cookie; it renders the lane's state
as the bridge sends it and decides nothing the lane machine decides.
"""
