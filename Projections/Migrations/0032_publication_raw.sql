-- The exact figures behind each published table, kept so that the next publication of the
-- authority computes again only the periods the log's new events can change (those ending on
-- or after the earliest date they touch) and takes the rest from here. Like the truth beside
-- them, never handed to a login: the authority's functions return the published figures only.
ALTER TABLE publication.summaries ADD COLUMN raw jsonb;
COMMENT ON COLUMN publication.summaries.raw IS
    'The exact rows the published table was made from (its figures before the disclosure policy), for the next publication to reuse where the log has not changed them; never handed to a login. NULL: computed again next time.';

-- The first day anything about the authority happened on, as its publication found it: where
-- its standard periods begin, kept so that neither the next publication nor a request looks
-- through the whole log for it (new events can only make it earlier).
ALTER TABLE publication.summaries ADD COLUMN first_on date;
COMMENT ON COLUMN publication.summaries.first_on IS
    'The first day anything in the log about the authority happened on, when this was published (NULL: nothing yet).';
