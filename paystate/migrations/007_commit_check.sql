-- The batch commit is one statement (engine/unit_of_work.py): its last step checks what its
-- compare-and-set and required rows came to and, if any lost, raises SQLSTATE PS409 so that the
-- whole statement, and with it the batch, is undone.
CREATE OR REPLACE FUNCTION paystate_check(ok boolean, what text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT ok THEN
        RAISE EXCEPTION USING ERRCODE = 'PS409', MESSAGE = what;
    END IF;
    RETURN true;
END
$$;
