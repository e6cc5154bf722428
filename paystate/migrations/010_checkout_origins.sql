-- The web origins (scheme://host[:port]) allowed to embed a merchant's checkout: the embedded
-- page is framed by, and posts its results to, one of these only (outside TEST_MODE). Empty:
-- the checkout can be used as a payment link, not embedded.
ALTER TABLE merchants ADD COLUMN checkout_origins TEXT[] NOT NULL DEFAULT '{}';
