"""The operator console (``/ops``): the people who run the gateway watch it and act on merchants,
beside the merchants' dashboard and on its handler base, with sessions, cookies and XSRF tokens
of its own."""
