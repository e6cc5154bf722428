"""Browser code served by the gateway: ``checkout.js`` (the SDK merchants embed), the hosted
checkout page's template, script and stylesheet. ``paystate/http/handlers/checkout.py`` serves
them."""
