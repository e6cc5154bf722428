"""The admin API (``/admin/v1``): the operators' front, authenticated by operator API tokens
(``Authorization: Bearer``); an admin changes things, a viewer reads."""
