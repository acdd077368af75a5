"""The organisation app's state changes: every ``do_<verb>_<noun>(…, *, actor, meta)`` runs in one
transaction and writes its organisation-log event in it.

* :mod:`.members` — invitations, roles, removal, leaving, handing over the administrator role;
* :mod:`.seals` — making, disabling, enabling and destroying seals;
* :mod:`.grants` — seal grants, the legal representative's decision, using a seal;
* :mod:`.licences` — the business licence's stored files;
* :mod:`.verification` — creating and editing an organisation, the shared steps of a
  verification attempt, re-asking the registry;
* :mod:`.deposits`, :mod:`.legal_rep`, :mod:`.review` — the verification methods and the
  operators' decision;
* :mod:`.registry` — asking the business registry, telling organisations of the same name.
"""
