-- AI replies are sealed with their owner's data key (issue 15). The sealed reply has
-- its own column (a STRICT table keeps `ai_response` TEXT); `ai_response` keeps only
-- replies written before encryption, until the upgrade at start seals them and sets
-- it to NULL, a batch at a time, so an interrupted upgrade resumes where it stopped.
ALTER TABLE entries ADD COLUMN ai_response_sealed BLOB;
