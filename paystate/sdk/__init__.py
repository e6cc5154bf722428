"""Browser code served by the gateway: ``checkout.js`` and the hosted checkout page (to come)."""
