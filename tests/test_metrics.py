"""Every definition of METRICS.md on a clinic small enough to work out by hand.

Moscow is UTC+3 all year; naive times below are clinic-local. Each expected number is
derived in the comment above its assertion.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tests.clinic import build_clinic, call, patient, phone, rows, visit


def test_def1_phone_identity_and_unidentified_callers(tmp_path: Path) -> None:
    conn = build_clinic(
        tmp_path,
        calls=[
            call("C1", "2025-03-03 10:00", "8 916 001-00-00"),
            call("C2", "2025-03-04 10:00", "+79160010000"),  # same phone as C1: not a new lead
            call("C3", "2025-03-04 11:00", "anonymous"),  # a target call, never a lead
            call("C4", "2025-03-04 12:00", "123-45-67"),  # no area code: unidentified
        ],
        as_of=date(2025, 3, 31),
    )
    # 4 calls, 1 lead (C1): C2 is the same identity, C3 and C4 cannot be identified
    assert rows(conn, "select sum(calls) from mart_channel_weekly") == [(4,)]
    assert rows(conn, "select call_id from fct_leads") == [("C1",)]
    assert rows(conn, "select count(distinct phone_hash) from int_calls") == [(1,)]


def test_def2_def3_cancelled_first_appointment_then_completed(tmp_path: Path) -> None:
    conn = build_clinic(
        tmp_path,
        patients=[patient("P1", phone(1)), patient("P2", phone(2))],
        visits=[
            visit("V1", "P1", "2025-03-05 10:00", 0, doctor="D2", status="cancelled"),
            visit("V2", "P1", "2025-03-08 10:00", 1500, doctor="D1"),
            visit("V3", "P1", "2025-03-20 10:00", 700, doctor="D2"),
            # P2: two completed visits at the same minute, the smaller visit_id is first
            visit("V9", "P2", "2025-03-10 12:00", 100, doctor="D2"),
            visit("V8", "P2", "2025-03-10 12:00", 200, doctor="D1"),
        ],
        as_of=date(2025, 3, 31),
    )
    # P1's cancelled V1 does not count: first visit V2 with D1, primary in week of 2025-03-03;
    # revenue = completed only = 1500 + 700
    assert rows(
        conn,
        "select patient_id, first_visit_id, primary_doctor_id, week_start, revenue_to_date, "
        "channel from fct_primary_patients order by patient_id",
    ) == [
        ("P1", "V2", "D1", date(2025, 3, 3), Decimal("2200.00"), "No call"),
        ("P2", "V8", "D1", date(2025, 3, 10), Decimal("300.00"), "No call"),
    ]


def test_def4_target_calls_follow_the_setting(tmp_path: Path) -> None:
    calls = [
        call("C1", "2025-03-03 10:00", phone(1), duration=29),
        call("C2", "2025-03-03 10:00", phone(2), duration=30),
        call("C3", "2025-03-03 10:00", phone(3), answered=False),
    ]
    # 30 s threshold: only C2 (answered, 30 >= 30) is a target call, so the only lead
    conn = build_clinic(tmp_path / "a", calls=calls, as_of=date(2025, 3, 31))
    assert rows(conn, "select call_id from fct_leads") == [("C2",)]
    # a 20 s threshold makes the 29 s call a target call, and a lead, too
    conn = build_clinic(
        tmp_path / "b", calls=calls, as_of=date(2025, 3, 31), target_call_min_duration_s=20
    )
    assert rows(conn, "select call_id from fct_leads order by 1") == [("C1",), ("C2",)]


def test_def5_existing_patients_call_is_not_a_lead(tmp_path: Path) -> None:
    conn = build_clinic(
        tmp_path,
        calls=[
            call("C1", "2025-03-10 10:00", phone(1)),  # P1 was treated on 03-01: service
            call("C2", "2025-03-10 10:00", phone(2)),  # P2's first visit comes after: a lead
        ],
        patients=[patient("P1", phone(1)), patient("P2", phone(2))],
        visits=[
            visit("V1", "P1", "2025-03-01 10:00"),
            visit("V2", "P2", "2025-03-01 10:00", status="cancelled"),
            visit("V3", "P2", "2025-03-12 10:00"),
        ],
        as_of=date(2025, 3, 31),
    )
    # P2's cancelled visit before the call does not make them an existing patient
    assert rows(conn, "select call_id, converted, patient_id from fct_leads") == [
        ("C2", True, "P2")
    ]


def test_def6_window_family_and_two_phones(tmp_path: Path) -> None:
    conn = build_clinic(
        tmp_path,
        calls=[
            # day 30 exactly: 2025-03-01 10:00 + 30 days = 2025-03-31 10:00 → converts
            call("C30", "2025-03-01 10:00", phone(30)),
            # day 31: 2025-03-01 10:00 → first visit 2025-04-01 10:00 is outside → no conversion
            call("C31", "2025-03-01 10:00", phone(31)),
            # a family phone: P5 first comes on 03-06, P6 on 03-11 → the lead converts to P5
            call("CF", "2025-03-01 09:00", phone(5)),
            # P7 has two phones: the earlier lead (phone 7) converts, the later one (phone 8) not
            call("CA", "2025-03-02 09:00", phone(7), admin="ivanova"),
            call("CB", "2025-03-03 09:00", phone(8), admin="A2"),
        ],
        patients=[
            patient("P30", phone(30)),
            patient("P31", phone(31)),
            patient("P5", phone(5)),
            patient("P6", phone(5)),
            patient("P7", phone(7), phone(8)),
        ],
        visits=[
            visit("V30", "P30", "2025-03-31 10:00"),
            visit("V31", "P31", "2025-04-01 10:00"),
            visit("V5", "P5", "2025-03-06 10:00"),
            visit("V6", "P6", "2025-03-11 10:00"),
            visit("V7", "P7", "2025-03-05 10:00"),
        ],
        as_of=date(2025, 4, 30),
    )
    assert rows(conn, "select call_id, converted, patient_id from fct_leads order by 1") == [
        ("C30", True, "P30"),
        ("C31", False, None),
        ("CA", True, "P7"),
        ("CB", False, None),
        ("CF", True, "P5"),
    ]
    # P6 (family) and P31 (day 31) have no converting lead
    assert rows(
        conn, "select patient_id from fct_primary_patients where channel = 'No call' order by 1"
    ) == [("P31",), ("P6",)]
    # a 31-day window converts C31 as well
    conn = build_clinic(
        tmp_path / "w31",
        calls=[call("C31", "2025-03-01 10:00", phone(31))],
        patients=[patient("P31", phone(31))],
        visits=[visit("V31", "P31", "2025-04-01 10:00")],
        as_of=date(2025, 4, 30),
        attribution_window_days=31,
    )
    assert rows(conn, "select converted from fct_leads") == [(True,)]


def test_def7_weeks_are_local_iso_weeks(tmp_path: Path) -> None:
    conn = build_clinic(
        tmp_path,
        calls=[
            # Sunday 23:30 UTC is Monday 02:30 in Moscow: the week of Monday 2025-03-03
            call("CU", "2025-03-02T23:30:00Z", phone(1)),
            # a week across the new year: Wed 2025-12-31 and Fri 2026-01-02 share the week
            # that starts on Monday 2025-12-29
            call("CY1", "2025-12-31 12:00", phone(2)),
            call("CY2", "2026-01-02 12:00", phone(3)),
        ],
        as_of=date(2026, 1, 20),
    )
    assert rows(conn, "select call_id, week_start from fct_leads order by 1") == [
        ("CU", date(2025, 3, 3)),
        ("CY1", date(2025, 12, 29)),
        ("CY2", date(2025, 12, 29)),
    ]
    assert rows(conn, "select started_at from fct_leads where call_id = 'CU'") == [
        (datetime(2025, 3, 2, 23, 30, tzinfo=UTC),)
    ]
    # window_open: week of 2025-12-29 ends Sunday 2026-01-04; + 30 days = 2026-02-03 > as_of
    # 2026-01-20 → open; the week of 2025-03-03 closed long ago
    assert rows(
        conn, "select week_start, leads, window_open from mart_channel_weekly order by 1"
    ) == [
        (date(2025, 3, 3), 1, False),
        (date(2025, 12, 29), 2, True),
    ]


def test_def8_channel_economics(tmp_path: Path) -> None:
    conn = build_clinic(
        tmp_path,
        calls=[
            call("C1", "2025-03-03 10:00", phone(1)),
            call("C2", "2025-03-04 10:00", phone(2)),
            call("C3", "2025-03-04 11:00", phone(3), answered=False),
            call("C4", "2025-03-05 10:00", phone(4), source="google", campaign="brand_msk"),
            call("C5", "2025-03-05 10:00", phone(5), source="google", campaign="generic"),
        ],
        patients=[patient("P1", phone(1))],
        visits=[visit("V1", "P1", "2025-03-06 10:00", 2000), visit("V2", "P1", "2025-03-20", 500)],
        spend=[
            ("2025-03-03", "yandex", "cpc", "brand", "600", "RUB", "", ""),
            ("2025-03-09", "Yandex", "CPC", "brand", "400", "", "", ""),
            ("2025-03-04", "google", "organic", "", "0", "RUB", "", ""),
            # spend on a channel with no calls at all
            ("2025-03-05", "google", "display", "awareness", "300", "RUB", "", ""),
        ],
        as_of=date(2025, 4, 30),
    )
    got = {
        r[0]: r[1:]
        for r in rows(
            conn,
            "select channel, spend, calls, leads, primary_patients, cost_per_lead, "
            "cost_per_primary, revenue_to_date, romi from mart_channel_weekly",
        )
    }
    # Yandex: spend 600 + 400 = 1000, 3 calls, 2 leads (C3 missed), 1 converted (P1,
    # revenue 2000 + 500) → 500 per lead, 1000 per primary, ROMI (2500 - 1000)/1000 = 1.5
    assert got["Yandex Direct"] == (
        Decimal("1000.00"),
        3,
        2,
        1,
        500.0,
        1000.0,
        Decimal("2500.00"),
        1.5,
    )
    # rule order: 'brand*' campaigns are Google Brand, the rest of google/cpc Google Ads;
    # google/display matches no rule → Other, spend with no calls still shows (NULL ratios)
    assert got["Google Brand"][1:3] == (1, 1)
    assert got["Google Ads"][1:3] == (1, 1)
    assert got["Other"] == (Decimal("300.00"), 0, 0, 0, None, None, Decimal("0.00"), -1.0)
    assert got["SEO"][0] == Decimal("0.00") and got["SEO"][-1] is None
    # the date-range macro over the same week gives the same Yandex row; over 03-04..03-05
    # only 0 spend, C2 and C3: 2 calls, 1 lead, 0 converted
    assert rows(
        conn,
        "select spend, calls, leads, primary_patients, cost_per_primary, romi "
        "from channel_economics(date '2025-03-03', date '2025-03-09') "
        "where channel = 'Yandex Direct'",
    ) == [(Decimal("1000.00"), 3, 2, 1, 1000.0, 1.5)]
    assert rows(
        conn,
        "select spend, calls, leads, primary_patients, cost_per_lead from "
        "channel_economics(date '2025-03-04', date '2025-03-05') where channel = 'Yandex Direct'",
    ) == [(Decimal("0.00"), 2, 1, 0, 0.0)]


def test_def8_spend_is_unknown_outside_its_exports_and_zero_only_where_free(
    tmp_path: Path,
) -> None:
    conn = build_clinic(
        tmp_path,
        calls=[
            call("C1", "2025-03-03 10:00", phone(1)),
            call("C2", "2025-03-12 10:00", phone(2)),  # after Yandex's last spend date
            call("C3", "2025-03-04 10:00", phone(3), source="google", campaign="generic"),
            call("C4", "2025-03-04 10:00", phone(4), source="google", medium="organic"),
        ],
        spend=[
            ("2025-03-03", "yandex", "cpc", "brand", "600", "RUB", "", ""),
            ("2025-03-09", "yandex", "cpc", "brand", "400", "RUB", "", ""),
        ],
        as_of=date(2025, 4, 30),
    )
    got = {
        (r[0], r[1]): r[2:]
        for r in rows(
            conn,
            "select week_start, channel, spend, leads, cost_per_lead, romi "
            "from mart_channel_weekly",
        )
    }
    # Yandex's exports cover 03-03..03-09: that week is known (1000 for 1 lead); C2 on 03-12
    # falls outside, so its week's spend is unknown, and so are its cost and ROMI, not 0
    assert got[(date(2025, 3, 3), "Yandex Direct")] == (Decimal("1000.00"), 1, 1000.0, -1.0)
    assert got[(date(2025, 3, 10), "Yandex Direct")] == (None, 1, None, None)
    # Google Ads has no spend export at all and is not declared free: unknown
    assert got[(date(2025, 3, 3), "Google Ads")] == (None, 1, None, None)
    # SEO is declared free in channels.csv: 0, so its cost per lead is a true 0
    assert got[(date(2025, 3, 3), "SEO")] == (Decimal("0.00"), 1, 0.0, None)
    # the range macro: any day with activity outside the coverage makes the range unknown
    assert rows(
        conn,
        "select spend, cost_per_lead from channel_economics(date '2025-03-03', "
        "date '2025-03-09') where channel = 'Yandex Direct'",
    ) == [(Decimal("1000.00"), 1000.0)]
    assert rows(
        conn,
        "select spend, cost_per_lead from channel_economics(date '2025-03-03', "
        "date '2025-03-16') where channel = 'Yandex Direct'",
    ) == [(None, None)]


def test_def9_operators_match_id_then_name_then_alias(tmp_path: Path) -> None:
    conn = build_clinic(
        tmp_path,
        calls=[
            call("C1", "2025-03-03 10:00", phone(1), admin="a1"),
            call("C2", "2025-03-03 10:00", phone(2), admin="наталья петрова"),
            call("C3", "2025-03-03 10:00", phone(3), admin="i.ivanova@CLINIC.ru"),
            call("C4", "2025-03-03 10:00", phone(4), admin="temp_operator"),
        ],
        patients=[patient("P1", phone(1))],
        visits=[visit("V1", "P1", "2025-03-04 10:00")],
        as_of=date(2025, 3, 31),
    )
    assert rows(conn, "select call_id, admin_id from fct_leads order by 1") == [
        ("C1", "A1"),
        ("C2", "A2"),
        ("C3", "A1"),
        ("C4", "temp_operator"),
    ]
    # A1: 2 leads, 1 converted; A2 and the unknown operator 1 lead each, none converted
    assert rows(
        conn,
        "select admin_id, admin_name, leads, primary_patients, conversion "
        "from mart_admin_conversion order by admin_id",
    ) == [
        ("A1", "Ирина Иванова", 2, 1, 0.5),
        ("A2", "Наталья Петрова", 1, 0, 0.0),
        ("temp_operator", "temp_operator", 1, 0, 0.0),
    ]


def test_def10_doctor_clv_mature_and_immature_cohorts(tmp_path: Path) -> None:
    # as_of 2026-06-30. Horizon 365 days: mature if first visit date <= 2025-06-30.
    # Return window 180: eligible if first visit date <= 2026-01-01.
    conn = build_clinic(
        tmp_path,
        patients=[patient("P1", phone(1)), patient("P2", phone(2)), patient("P3", phone(3))],
        visits=[
            # P1, mature (t0 2025-05-01): 1000 at t0, 2000 at +100 d (with D2: still P1's
            # value), 500 at +364 d, 700 at +366 d (outside the 365-day horizon)
            visit("V11", "P1", "2025-05-01 10:00", 1000),
            visit("V12", "P1", "2025-08-09 10:00", 2000, doctor="D2"),
            visit("V13", "P1", "2026-04-30 10:00", 500),
            visit("V14", "P1", "2026-05-02 10:00", 700),
            # P2, immature (t0 2026-03-22): 3000
            visit("V21", "P2", "2026-03-22 10:00", 3000),
            # P3, immature but eligible for the return rate (t0 2025-12-12), never returned
            visit("V31", "P3", "2025-12-12 10:00", 800),
            visit("V32", "P3", "2025-12-20 10:00", 0, status="no_show"),
        ],
        as_of=date(2026, 6, 30),
    )
    # D1's primary patients: P1, P2, P3. clv_to_date = (4200 + 3000 + 800) / 3 = 2666.67
    # clv_365 over mature P1 only = 1000 + 2000 + 500 = 3500; 1 mature patient
    # repeat visits in (t0, t0 + 365 d): V12, V13 = 2
    # return rate over P1 (returned on +100 d) and P3 (no completed return) = 1/2
    assert rows(
        conn,
        "select doctor_id, primary_patients, round(clv_to_date, 2), clv_365, clv_365_patients, "
        "repeat_visits_per_primary, return_rate from mart_doctor_clv order by doctor_id",
    ) == [
        ("D1", 3, 2666.67, 3500.0, 1, 2.0, 0.5),
        ("D2", 0, None, None, 0, None, None),
    ]


def test_def11_satisfaction(tmp_path: Path) -> None:
    conn = build_clinic(
        tmp_path,
        patients=[patient("P1", phone(1))],
        visits=[visit(f"V{i}", "P1", f"2025-03-{i + 10} 10:00") for i in range(1, 6)]
        + [visit("W1", "P1", "2025-03-20 10:00", doctor="D2")],
        surveys=[
            ("V1", 10, ""),
            ("V2", 9, ""),
            ("V3", 8, ""),
            ("V4", 6, ""),
            ("V5", 3, ""),
            ("W1", 10, ""),
        ],
        as_of=date(2025, 3, 31),
    )
    # D1: 5 surveys, mean (10+9+8+6+3)/5 = 7.2, NPS = 100 * (2 promoters - 2 detractors)/5 = 0
    # D2: one 10 → NPS 100, though D2 has no primary patient
    assert rows(
        conn, "select doctor_id, surveys, score_mean, nps from mart_doctor_clv order by 1"
    ) == [("D1", 5, 7.2, 0.0), ("D2", 1, 10.0, 100.0)]


def test_def14_last_touch_beside_first_touch(tmp_path: Path) -> None:
    # as_of 2025-04-30, window 30 days.
    conn = build_clinic(
        tmp_path,
        calls=[
            # P1: lead by Yandex on 03-01, a call-back through SEO on 03-04, visit 03-06:
            # first-touch Yandex Direct, last-touch SEO (switched)
            call("C1", "2025-03-01 10:00", phone(1)),
            call("C1b", "2025-03-04 10:00", phone(1), source="google", medium="organic"),
            # P2: lead by Google on 03-01 and a later Google Brand call on 03-02, both
            # before the visit; two calls at the same moment on 03-03: the larger call_id
            # (C2z, Yandex) is last
            call("C2", "2025-03-01 10:00", phone(2), source="google", campaign="generic"),
            call("C2a", "2025-03-03 10:00", phone(2), source="google", campaign="brand_x"),
            call("C2z", "2025-03-03 10:00", phone(2)),
            # P3: a call on 03-01, a 10 s call on 03-05 (not a target call), visit 03-07
            call("C3", "2025-03-01 10:00", phone(3), source="google", campaign="generic"),
            call("C3s", "2025-03-05 10:00", phone(3), duration=10),
            # a family phone: P4 first comes on 03-02 (the lead's patient); on 03-10 P4
            # phones about their own treatment through Yandex; P5, a child on that phone,
            # first comes 03-12: the 03-10 call is service and credits nobody, so P5's last
            # touch is the 03-01 call that booked P4 (one call, two patients)
            call("C4", "2025-03-01 09:00", phone(4), source="google", campaign="generic"),
            call("C4s", "2025-03-10 09:00", phone(4)),
        ],
        patients=[
            patient("P1", phone(1)),
            patient("P2", phone(2)),
            patient("P3", phone(3)),
            patient("P4", phone(4)),
            patient("P5", phone(4)),
        ],
        visits=[
            visit("V1", "P1", "2025-03-06 10:00"),
            visit("V2", "P2", "2025-03-08 10:00"),
            visit("V3", "P3", "2025-03-07 10:00"),
            visit("V4", "P4", "2025-03-02 10:00"),
            visit("V5", "P5", "2025-03-12 10:00"),
        ],
        as_of=date(2025, 4, 30),
    )
    assert rows(
        conn,
        "select patient_id, first_touch_channel, last_touch_channel, last_touch_call_id "
        "from int_patient_attribution order by 1",
    ) == [
        ("P1", "Yandex Direct", "SEO", "C1b"),
        ("P2", "Google Ads", "Yandex Direct", "C2z"),
        ("P3", "Google Ads", "Google Ads", "C3"),
        ("P4", "Google Ads", "Google Ads", "C4"),
        ("P5", "No call", "Google Ads", "C4"),
    ]
    # the weekly mart: first-touch in the week of the lead call (all four leads on
    # Saturday 03-01, ISO week of Monday 02-24; P5 in the week of the first visit, 03-10);
    # last-touch in the week of the last call (C1b on 03-04 and C2z on 03-03: week of
    # 03-03; C3 and C4 on 03-01); switched: P1, P2 and P5 change channel
    assert rows(
        conn,
        "select week_start::varchar, channel, primary_first_touch, primary_last_touch, "
        "switched from mart_channel_attribution order by 1, 2",
    ) == [
        ("2025-02-24", "Google Ads", 3, 3, 1),
        ("2025-02-24", "Yandex Direct", 1, 0, 1),
        ("2025-03-03", "SEO", 0, 1, 0),
        ("2025-03-03", "Yandex Direct", 0, 1, 0),
        ("2025-03-10", "No call", 1, 0, 1),
    ]


def test_def15_doctor_revenue_split_and_quadrant_only_when_clear(tmp_path: Path) -> None:
    # Three doctors, 40 mature primary patients each (first visits in 2024, as_of 2026-06-30),
    # amounts alternating above and below a centre so each mean has an interval:
    #   D1: first visit 10,000 ± 1,000, a repeat of 5,000 30 days later → CLV 15,000;
    #       surveys: 30 scores of 3, 10 of 10 → NPS (10 - 30) / 40 = -50
    #   D2: first visit 5,000 ± 1,000, no repeat → CLV 5,000;
    #       surveys: 20 of 10, 10 of 8, 10 of 3 → NPS (20 - 10) / 40 = +25
    #   D3: first visit 2,000 ± 500 → CLV 2,000; 10 surveys of 10 → NPS 100 (thin: < 30)
    # Clinic medians over doctors: CLV 5,000 (D2), NPS 25 (D2). D1's intervals sit clear of
    # both, above on CLV and below on NPS: valuable but unhappy. D2's straddle its own
    # medians: no side. D3 is clearly below on CLV and clearly above on NPS.
    # Revenue split: D1 first visits 40 × 10,000 = 400,000, repeats 40 × 5,000 = 200,000;
    # D2 200,000 and 0; D3 80,000 and 0.
    centre = {"D1": (10_000, 1_000), "D2": (5_000, 1_000), "D3": (2_000, 500)}
    patients, visits, surveys = [], [], []
    for d, (doctor, (amount, swing)) in enumerate(centre.items()):
        for i in range(40):
            pid, day = f"P{d}{i:02d}", date(2024, 1, 1) + timedelta(days=i)
            patients.append(patient(pid, phone(100 * d + i)))
            first = amount + (swing if i % 2 else -swing)
            visits.append(visit(f"V{d}{i:02d}", pid, f"{day} 10:00", first, doctor=doctor))
            if doctor == "D1":
                later = day + timedelta(days=30)
                visits.append(visit(f"R{d}{i:02d}", pid, f"{later} 10:00", 5_000, doctor=doctor))
            score = {
                "D1": 3 if i < 30 else 10,
                "D2": 10 if i < 20 else 8 if i < 30 else 3,
                "D3": 10 if i < 10 else None,
            }[doctor]
            if score is not None:
                surveys.append((f"V{d}{i:02d}", score, ""))
    conn = build_clinic(
        tmp_path, patients=patients, visits=visits, surveys=surveys, as_of=date(2026, 6, 30)
    )
    assert rows(
        conn,
        "select doctor_id, clv_365, nps, revenue_first_visit::bigint, revenue_repeat::bigint, "
        "clv_365_vs_median, nps_vs_median, valuable_but_unhappy, thin_patients, thin_surveys "
        "from mart_doctor_clv order by doctor_id",
    ) == [
        ("D1", 15_000.0, -50.0, 400_000, 200_000, "above", "below", True, False, False),
        ("D2", 5_000.0, 25.0, 200_000, 0, None, None, False, False, False),
        ("D3", 2_000.0, 100.0, 80_000, 0, "below", "above", False, False, True),
    ]
    # every interval holds its estimate, and the median sits beside the mean
    assert rows(
        conn,
        "select count(*) from mart_doctor_clv where clv_365_low < clv_365 and "
        "clv_365 < clv_365_high and nps_low <= nps and nps <= nps_high and "
        "clv_to_date_low < clv_to_date "
        # D3's ten scores are all 10: no spread seen, the interval is unknown (NULL)
        "and coalesce(score_mean_low <= score_mean, doctor_id = 'D3')",
    ) == [(3,)]
    assert rows(conn, "select clv_365_median from mart_doctor_clv order by 1") == [
        (2_000.0,),  # D3: half at 1,500, half at 2,500
        (5_000.0,),
        (15_000.0,),
    ]


def test_def12_missed_calls_recovered_within_24_hours(tmp_path: Path) -> None:
    conn = build_clinic(
        tmp_path,
        calls=[
            # Monday 2025-03-03 10:15: missed, called back answered 23 h later → recovered
            call("M1", "2025-03-03 10:15", phone(1), answered=False),
            call("A1", "2025-03-04 09:15", phone(1)),
            # Monday 10:40: missed, the answered call comes 25 h later → lost
            call("M2", "2025-03-03 10:40", phone(2), answered=False),
            call("A2", "2025-03-04 11:40", phone(2)),
            # Monday 10:50: a hidden number cannot be recognised → lost
            call("M3", "2025-03-03 10:50", "anonymous", answered=False),
        ],
        as_of=date(2025, 3, 31),
    )
    # Monday 10:00-10:59: 3 calls, 3 missed (rate 1), 1 recovered, 2 lost;
    # Tuesday 9 h and 11 h: 1 answered call each
    assert rows(
        conn,
        "select weekday, hour, calls, missed, missed_rate, recovered, lost from mart_missed_calls "
        "where calls > 0 order by weekday, hour",
    ) == [(1, 10, 3, 3, 1.0, 1, 2), (2, 9, 1, 0, 0.0, 0, 0), (2, 11, 1, 0, 0.0, 0, 0)]
    assert rows(conn, "select count(*) from mart_missed_calls") == [(168,)]


def test_def13_reactivation_boundaries(tmp_path: Path) -> None:
    # as_of 2026-11-15: as_of - 18 months = 2025-05-15, as_of - 36 months = 2023-11-15;
    # the list takes 2023-11-15 < d <= 2025-05-15
    visits = [
        visit("V1", "P1", "2025-05-15 10:00", 100),  # exactly 18 months → in, 18 months
        visit("V2", "P2", "2025-05-16 10:00", 200),  # one day short of 18 months → out
        visit("V3", "P3", "2023-11-15 10:00", 300),  # exactly 36 months → out
        visit("V4", "P4", "2023-11-16 10:00", 400),  # a day inside → in, 35 whole months
        visit("V5", "P5", "2024-06-01 10:00", 500),  # in range but no consent → out
        visit("V6", "P1", "2024-01-10 10:00", 50, doctor="D2"),  # P1's earlier visit
        visit("V7", "P6", "2024-01-10 10:00", 50),
        visit("V8", "P6", "2026-01-10 10:00", 60, status="cancelled"),  # not completed
        visit("V9", "P7", "2026-11-15 09:00", 10),  # keeps as_of at 2026-11-15
    ]
    conn = build_clinic(
        tmp_path,
        patients=[patient(f"P{i}", phone(i), consent=i != 5) for i in range(1, 8)],
        visits=visits,
    )
    assert rows(conn, "select as_of from int_parameters") == [(date(2026, 11, 15),)]
    # P6: last completed visit 2024-01-10 → 34 whole months (2026-11-10 <= 11-15)
    assert rows(
        conn,
        "select patient_id, months_since, primary_doctor_id, last_service, revenue_to_date "
        "from mart_reactivation order by patient_id",
    ) == [
        ("P1", 18, "D2", "Консультация", Decimal("150.00")),
        ("P4", 35, "D1", "Консультация", Decimal("400.00")),
        ("P6", 34, "D1", "Консультация", Decimal("50.00")),
    ]
