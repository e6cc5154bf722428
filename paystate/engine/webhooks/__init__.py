"""Webhook deliveries: the dispatcher of one process and what it is made of.

Modules, each importing only those before it: ``urls`` (which targets may be called),
``records`` (rows to delivery objects), ``sender`` (the POSTs, on their own loop), ``messages``
(what the actor is told), ``deliveries`` (the actor's reads and claims of delivery rows),
``slots`` (attempts in flight and each merchant's room), ``actor`` (decides and records),
``dispatcher`` (threads that feed the actor; lifecycle), ``bridge`` (what the HTTP front calls).
"""
