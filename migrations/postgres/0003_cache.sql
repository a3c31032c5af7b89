-- Which cache tier answered (hit, miss, bypass).
ALTER TABLE requests ADD COLUMN cache TEXT;
