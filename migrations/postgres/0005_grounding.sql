-- In-line grounding: the answer's support score against its RAG context,
-- whether it was flagged, and the claim details (JSON).
ALTER TABLE requests ADD COLUMN grounding_score DOUBLE PRECISION;
ALTER TABLE requests ADD COLUMN flagged BOOLEAN;
ALTER TABLE requests ADD COLUMN grounding TEXT;
-- Partial: only flagged answers are indexed, so ordinary writes do not pay for it.
CREATE INDEX requests_flagged ON requests(team, created_at) WHERE flagged;
