-- The logo the hosted checkout shows beside the merchant's name: an https URL (http only for a
-- loopback host under TEST_MODE), checked by the fronts; NULL shows the name alone.
ALTER TABLE merchants ADD COLUMN logo_url TEXT CHECK (logo_url IS NULL OR length(logo_url) <= 2048);
