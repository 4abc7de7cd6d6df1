-- Projections read the log by event type: a rebuild of a projection reads only its types, and
-- finds every correction and withdrawal, without scanning the whole log.
CREATE INDEX events_type_position ON reach.events (event_type, "position");
