use super::*;
use http::HeaderValue;
use proptest::prelude::*;

const MS: fn(u64) -> Duration = Duration::from_millis;

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}

/// Runs failures until the state machine stops; returns the delays and the final decision.
fn schedule(
    policy: &RetryPolicy,
    code: u16,
    headers: &HeaderMap,
    jitter: &mut dyn JitterSource,
) -> (Vec<Duration>, Decision) {
    let mut st = RetryState::new(policy, Instant::ZERO);
    let mut now = Instant::ZERO;
    let mut delays = Vec::new();
    loop {
        st.start_attempt();
        let out = Outcome::Response { status: status(code), headers };
        match st.on_failure(policy, &out, true, now, None, jitter) {
            Decision::Retry { delay, .. } => {
                delays.push(delay);
                now = now + delay;
            }
            other => return (delays, other),
        }
    }
}

#[test]
fn golden_schedule_fixed_zero_jitter() {
    let (d, end) = schedule(&RetryPolicy::default(), 500, &HeaderMap::new(), &mut FixedJitter(0.0));
    assert_eq!(d, [MS(500), MS(1000), MS(2000), MS(4000)]);
    assert_eq!(end, Decision::Stop(StopReason::AttemptsExhausted));
}

#[test]
fn golden_schedule_throttle_upper_bound() {
    // u → 1 gives 2d: 1 s, 2 s, 4 s, 8 s (just under, since u < 1).
    let (d, _) = schedule(&RetryPolicy::default(), 429, &HeaderMap::new(), &mut FixedJitter(0.5));
    assert_eq!(d, [MS(750), MS(1500), MS(3000), MS(6000)]);
}

#[test]
fn golden_schedule_fixed_sequence() {
    let mut j = SeqJitter::new([0.1, 0.25, 0.8, 0.0]);
    let (d, _) = schedule(&RetryPolicy::default(), 503, &HeaderMap::new(), &mut j);
    assert_eq!(d, [MS(550), MS(1250), MS(3600), MS(4000)]);
}

#[test]
fn full_jitter_for_transient_only() {
    let policy = RetryPolicy { transient_jitter: JitterMode::Full, ..Default::default() };
    let (d, _) = schedule(&policy, 502, &HeaderMap::new(), &mut FixedJitter(0.5));
    assert_eq!(d, [MS(250), MS(500), MS(1000), MS(2000)]);
    let (d, _) = schedule(&policy, 429, &HeaderMap::new(), &mut FixedJitter(0.5));
    assert_eq!(d, [MS(750), MS(1500), MS(3000), MS(6000)], "429 keeps [d, 2d]");
}

#[test]
fn backoff_is_capped() {
    let policy = RetryPolicy { max_retries: 8, ..Default::default() };
    let (d, _) = schedule(&policy, 500, &HeaderMap::new(), &mut FixedJitter(0.9));
    assert_eq!(d.len(), 8);
    assert_eq!(d[5], Duration::from_secs(20), "16 s × 1.9 capped at 20 s");
    assert!(d.iter().all(|x| *x <= Duration::from_secs(20)));
}

#[test]
fn max_retries_zero_means_one_attempt() {
    let policy = RetryPolicy { max_retries: 0, ..Default::default() };
    let (d, end) = schedule(&policy, 500, &HeaderMap::new(), &mut FixedJitter(0.0));
    assert!(d.is_empty());
    assert_eq!(end, Decision::Stop(StopReason::AttemptsExhausted));
}

#[test]
fn retry_after_is_a_floor_and_capped() {
    let mut h = HeaderMap::new();
    h.insert("retry-after", HeaderValue::from_static("3"));
    let (d, _) = schedule(&RetryPolicy::default(), 429, &h, &mut FixedJitter(0.0));
    assert_eq!(d, [MS(3000), MS(3000), MS(3000), MS(4000)]);
    // Ignored on statuses other than 429/503.
    let (d, _) = schedule(&RetryPolicy::default(), 500, &h, &mut FixedJitter(0.0));
    assert_eq!(d[0], MS(500));
    h.insert("retry-after", HeaderValue::from_static("61"));
    let (d, end) = schedule(&RetryPolicy::default(), 503, &h, &mut FixedJitter(0.0));
    assert!(d.is_empty());
    assert_eq!(end, Decision::GiveUp(GiveUpReason::RetryAfterTooLong { retry_after: Duration::from_secs(61) }));
}

#[test]
fn permanent_statuses_are_not_retried() {
    for code in [400, 401, 402, 403, 404, 405, 408, 409, 413, 415, 422] {
        let (d, end) = schedule(&RetryPolicy::default(), code, &HeaderMap::new(), &mut FixedJitter(0.0));
        assert!(d.is_empty(), "{code}");
        assert_eq!(end, Decision::Stop(StopReason::NotRetryable), "{code}");
    }
}

#[test]
fn transcript_of_mixed_outcomes() {
    let policy = RetryPolicy::default();
    let h = HeaderMap::new();
    let mut st = RetryState::new(&policy, Instant::ZERO);
    let mut j = FixedJitter(0.0);
    let mut transcript = Vec::new();
    let outcomes = [
        Outcome::Transport(TransportErrorKind::Connect),
        Outcome::Response { status: status(429), headers: &h },
        Outcome::Transport(TransportErrorKind::Timeout),
        Outcome::Response { status: status(404), headers: &h },
    ];
    for out in outcomes {
        st.start_attempt();
        transcript.push(st.on_failure(&policy, &out, false, Instant::ZERO, None, &mut j));
    }
    assert_eq!(
        transcript,
        [
            Decision::Retry {
                delay: MS(500),
                retry_after: None,
                kind: FailureKind::Transient { maybe_processed: false }
            },
            Decision::Retry { delay: MS(1000), retry_after: None, kind: FailureKind::Throttle },
            Decision::Retry {
                delay: MS(2000),
                retry_after: None,
                kind: FailureKind::Transient { maybe_processed: true }
            },
            Decision::Stop(StopReason::NotRetryable),
        ]
    );
    let mut st = RetryState::new(&policy, Instant::ZERO);
    st.start_attempt();
    let out = Outcome::Transport(TransportErrorKind::Protocol);
    assert_eq!(
        st.on_failure(&policy, &out, true, Instant::ZERO, None, &mut j),
        Decision::Stop(StopReason::NotRetryable)
    );
}

#[test]
fn safe_only_skips_maybe_processed_for_non_idempotent() {
    let policy = RetryPolicy { non_idempotent: NonIdempotentRetry::SafeOnly, ..Default::default() };
    let h = HeaderMap::new();
    let mut j = FixedJitter(0.0);
    let check = |out: Outcome<'_>, idempotent: bool, j: &mut FixedJitter| {
        let mut st = RetryState::new(&policy, Instant::ZERO);
        st.start_attempt();
        st.on_failure(&policy, &out, idempotent, Instant::ZERO, None, j)
    };
    let r500 = Outcome::Response { status: status(500), headers: &h };
    assert_eq!(check(r500, false, &mut j), Decision::Stop(StopReason::UnsafeToRetry));
    assert!(matches!(check(r500, true, &mut j), Decision::Retry { .. }));
    let r429 = Outcome::Response { status: status(429), headers: &h };
    assert!(matches!(check(r429, false, &mut j), Decision::Retry { .. }));
    let conn = Outcome::Transport(TransportErrorKind::Connect);
    assert!(matches!(check(conn, false, &mut j), Decision::Retry { .. }));
    let reset = Outcome::Transport(TransportErrorKind::ConnectionClosed);
    assert_eq!(check(reset, false, &mut j), Decision::Stop(StopReason::UnsafeToRetry));
    // The default retries non-idempotent calls like the official clients.
    let compat = RetryPolicy::default();
    let mut st = RetryState::new(&compat, Instant::ZERO);
    st.start_attempt();
    assert!(matches!(st.on_failure(&compat, &r500, false, Instant::ZERO, None, &mut j), Decision::Retry { .. }));
}

#[test]
fn deadline_stops_before_sleeping_past_it() {
    let policy = RetryPolicy { deadline: Some(Duration::from_millis(2000)), ..Default::default() };
    let (d, end) = schedule(&policy, 500, &HeaderMap::new(), &mut FixedJitter(0.0));
    // 500 ms then 1 s reach 1.5 s; the next 2 s wait would end at 3.5 s.
    assert_eq!(d, [MS(500), MS(1000)]);
    assert_eq!(end, Decision::GiveUp(GiveUpReason::DeadlineWouldPass { delay: MS(2000) }));
    let mut st = RetryState::new(&policy, Instant::ZERO);
    st.start_attempt();
    let t = st.attempt_timeout(
        &Timeouts::default(),
        Timeout::Tier(crate::config::TimeoutTier::Short),
        Instant::from_millis(1500),
    );
    assert_eq!(t, Some(MS(500)), "attempt timeout limited by the remaining deadline");
}

#[test]
fn budget_limits_retries_and_refills() {
    let budget = RetryBudget::new(30);
    let policy = RetryPolicy { budget: Some(budget.clone()), ..Default::default() };
    let (d, end) = schedule(&policy, 500, &HeaderMap::new(), &mut FixedJitter(0.0));
    assert_eq!(d.len(), 2, "two 14-token retries fit in 30");
    assert_eq!(end, Decision::GiveUp(GiveUpReason::BudgetExhausted));
    assert_eq!(budget.remaining(), 2);
    let mut st = RetryState::new(&policy, Instant::ZERO);
    st.start_attempt();
    st.on_success(&policy);
    assert_eq!(budget.remaining(), 3, "first-attempt success adds one");
}

fn arb_outcome() -> impl Strategy<Value = (u16, u8)> {
    // (status or 0 for a transport error, transport kind index)
    (prop_oneof![Just(0u16), Just(200), Just(404), Just(429), Just(500), Just(502), Just(503)], 0u8..9)
}

const KINDS: [TransportErrorKind; 9] = [
    TransportErrorKind::Connect,
    TransportErrorKind::Timeout,
    TransportErrorKind::ConnectionClosed,
    TransportErrorKind::IncompleteBody,
    TransportErrorKind::Refused,
    TransportErrorKind::Protocol,
    TransportErrorKind::Unsupported,
    TransportErrorKind::RequestBody,
    TransportErrorKind::Other,
];

proptest! {
    #[test]
    fn properties_hold(
        outcomes in proptest::collection::vec(arb_outcome(), 1..20),
        jitters in proptest::collection::vec(0.0f64..1.0, 1..20),
        max_retries in 0u32..10,
        deadline_ms in proptest::option::of(100u64..60_000),
        capacity in proptest::option::of(0u32..100),
        safe_only in any::<bool>(),
        idempotent in any::<bool>(),
        retry_after in proptest::option::of(0u64..120),
    ) {
        let budget = capacity.map(RetryBudget::new);
        let policy = RetryPolicy {
            max_retries,
            deadline: deadline_ms.map(Duration::from_millis),
            budget: budget.clone(),
            non_idempotent: if safe_only { NonIdempotentRetry::SafeOnly } else { NonIdempotentRetry::ApifyCompat },
            ..Default::default()
        };
        let mut headers = HeaderMap::new();
        if let Some(ra) = retry_after {
            headers.insert("retry-after", HeaderValue::from_str(&ra.to_string()).unwrap());
        }
        let mut j = SeqJitter::new(jitters);
        let mut st = RetryState::new(&policy, Instant::ZERO);
        let mut now = Instant::ZERO;
        for (code, k) in outcomes {
            let attempt = st.start_attempt();
            prop_assert!(attempt <= max_retries + 1, "attempts never exceed max_retries + 1");
            let out = if code == 0 {
                Outcome::Transport(KINDS[k as usize])
            } else {
                Outcome::Response { status: status(code), headers: &headers }
            };
            match st.on_failure(&policy, &out, idempotent, now, None, &mut j) {
                Decision::Retry { delay, kind, .. } => {
                    let ra = retry_after.map(Duration::from_secs).unwrap_or_default();
                    prop_assert!(delay <= policy.max_backoff.max(ra.min(policy.max_retry_after)));
                    if let Some(dl) = st.deadline() {
                        prop_assert!(now + delay < dl, "never sleeps past the deadline");
                    }
                    if safe_only && !idempotent {
                        let unsafe_retry = matches!(kind, FailureKind::Transient { maybe_processed: true });
                        prop_assert!(!unsafe_retry, "SafeOnly never retries a maybe-processed failure");
                    }
                    now = now + delay;
                }
                _ => break,
            }
            if let Some(b) = &budget {
                prop_assert!(b.remaining() <= b.capacity());
            }
        }
    }
}

#[test]
fn a_retry_after_past_the_deadline_fails_at_once() {
    let mut h = HeaderMap::new();
    h.insert("retry-after", HeaderValue::from_static("30"));
    // 30 s is within max_retry_after (60 s) but not within a 2 s deadline.
    let policy = RetryPolicy { deadline: Some(MS(2000)), ..Default::default() };
    let mut st = RetryState::new(&policy, Instant::ZERO);
    st.start_attempt();
    let out = Outcome::Response { status: status(429), headers: &h };
    let at = Instant::ZERO + MS(500);
    let d = st.on_failure(&policy, &out, true, at, None, &mut FixedJitter(0.0));
    assert_eq!(
        d,
        Decision::GiveUp(GiveUpReason::RetryAfterPastDeadline {
            retry_after: Duration::from_secs(30),
            remaining: MS(1500)
        })
    );
    let Decision::GiveUp(reason) = d else { unreachable!() };
    assert!(reason.to_string().contains("longer than the 1.5s left before the call's deadline"), "{reason}");

    // A day is longer than any policy allows: without a deadline the cap says so, and an
    // absurd value saturates instead of overflowing the clock.
    for (value, want) in
        [("86400", Duration::from_secs(86400)), ("99999999999999999999999", Duration::from_secs(u64::MAX))]
    {
        h.insert("retry-after", HeaderValue::from_static(value));
        let out = Outcome::Response { status: status(503), headers: &h };
        let mut st = RetryState::new(&RetryPolicy::default(), Instant::ZERO);
        st.start_attempt();
        let d = st.on_failure(&RetryPolicy::default(), &out, true, Instant::ZERO, None, &mut FixedJitter(0.0));
        assert_eq!(d, Decision::GiveUp(GiveUpReason::RetryAfterTooLong { retry_after: want }), "{value}");
        // With a deadline, the deadline is named whatever max_retry_after says.
        let lax = RetryPolicy { max_retry_after: Duration::MAX, deadline: Some(MS(2000)), ..Default::default() };
        let mut st = RetryState::new(&lax, Instant::ZERO);
        st.start_attempt();
        let d = st.on_failure(&lax, &out, true, Instant::ZERO, None, &mut FixedJitter(0.0));
        assert_eq!(
            d,
            Decision::GiveUp(GiveUpReason::RetryAfterPastDeadline { retry_after: want, remaining: MS(2000) })
        );
    }
}
