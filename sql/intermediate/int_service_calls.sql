-- Service calls (definition 5): the calls from a phone whose holder was already a
-- patient, one of the patients holding it having had their first completed visit before
-- the call. Such a call is service, not acquisition: it is no lead (int_leads) and no
-- last touch (int_last_touches). One home for the rule both apply, and one join of every
-- call to the patients' phones instead of two.
-- materialized: memory
select distinct int_calls.call_id
from int_calls
inner join int_patient_phones using (phone_hash)
inner join int_first_visits using (patient_id)
where int_first_visits.first_visit_at < int_calls.started_at
