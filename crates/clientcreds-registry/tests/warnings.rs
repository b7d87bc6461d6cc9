//! Expiry warnings (product E), driven by the manual clock over the
//! in-memory store: stages, recipients, stop and restart rules, late runs,
//! retries, leases, and a 200-day simulation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use clientcreds_registry::warnings::{
    Contact, Directory, Notification, Notifier, WarningConfig, WarningRunner,
};
use clientcreds_registry::{
    Actor, ClientUpdate, Error, NewClient, Policy, RotateOptions, RotationMode, SecretLifetime,
};
use clientcreds_store::{ClientStatus, WarningLedger, WarningState};
use common::{World, tenant, world};
use time::{Duration, OffsetDateTime};

/// Records every notification; fails the first `fail_first` calls.
#[derive(Debug, Default)]
struct Recorder {
    sent: Mutex<Vec<Notification>>,
    fail_first: Mutex<usize>,
}

#[async_trait]
impl Notifier for Recorder {
    async fn notify(&self, notification: &Notification) -> Result<(), Error> {
        {
            let mut fail = self.fail_first.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(Error::delivery("mail server said 451"));
            }
        }
        self.sent.lock().unwrap().push(notification.clone());
        Ok(())
    }
}

impl Recorder {
    fn failing(times: usize) -> Self {
        Self {
            sent: Mutex::default(),
            fail_first: Mutex::new(times),
        }
    }

    /// (client id, stage, recipient user id), in send order.
    fn sent(&self) -> Vec<(String, u32, String)> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n.warning.client_id.clone(),
                    n.warning.stage_days,
                    n.contact.user_id.clone(),
                )
            })
            .collect()
    }
}

/// Knows every user except those named `ghost*`.
#[derive(Debug)]
struct Users;

#[async_trait]
impl Directory for Users {
    async fn contact(&self, user_id: &str) -> Result<Option<Contact>, Error> {
        if user_id.starts_with("ghost") {
            return Ok(None);
        }
        let locale = if user_id.starts_with("sv-") {
            "sv"
        } else {
            "en"
        };
        Ok(Some(Contact::new(
            user_id,
            format!("{user_id}@example.com"),
            user_id,
            locale,
        )))
    }
}

fn product_e() -> Policy {
    Policy::default()
        .with_secret_lifetime(Some(Duration::days(180)))
        .with_rotation(RotationMode::ReplaceSecret, Duration::ZERO)
}

fn runner(w: &World, notifier: Arc<Recorder>) -> WarningRunner {
    WarningRunner::new(
        w.store.clone(),
        w.store.clone(),
        Arc::new(Users),
        notifier,
        WarningConfig::default()
            .with_action_url("https://portal.example/{tenant}/clients/{client_id}"),
    )
}

fn admin() -> Actor {
    Actor::tenant_admin(tenant("acme"), "creator")
}

async fn create(w: &World, name: &str, owner: Option<&str>, days: i64) -> String {
    let mut new =
        NewClient::named(name).with_secret_lifetime(SecretLifetime::After(Duration::days(days)));
    if let Some(owner) = owner {
        new = new.with_owner(owner);
    }
    w.registry
        .create(&admin(), &tenant("acme"), new)
        .await
        .unwrap()
        .credentials
        .client_id
        .clone()
}

/// Runs every `step` from now until `days` later; returns, per send, the
/// day (since the start) it happened.
async fn run_for(w: &World, runner: &WarningRunner, days: i64, step: Duration) {
    let end = w.clock_now() + Duration::days(days);
    while w.clock_now() < end {
        w.clock.advance(step);
        runner.run_due(w.clock_now()).await.unwrap();
    }
}

trait Now {
    fn clock_now(&self) -> OffsetDateTime;
}

impl Now for World {
    fn clock_now(&self) -> OffsetDateTime {
        use clientcreds_registry::Clock as _;
        self.clock.now()
    }
}

#[tokio::test]
async fn a_secret_expiring_in_3_days_gets_the_1_day_and_expiry_warnings() {
    let w = world(product_e());
    let notifier = Arc::new(Recorder::default());
    let runner = runner(&w, notifier.clone());
    let id = create(&w, "short", None, 3).await;
    run_for(&w, &runner, 5, Duration::hours(1)).await;
    assert_eq!(
        notifier.sent(),
        vec![
            (id.clone(), 1, "creator".into()),
            (id.clone(), 0, "creator".into())
        ]
    );
    let sent = notifier.sent.lock().unwrap();
    assert_eq!(sent[0].warning.days_remaining, 1);
    assert_eq!(sent[1].warning.days_remaining, 0);
    assert_eq!(
        sent[0].message.subject,
        "Your OAuth Client Secret is Expiring Soon"
    );
    assert_eq!(
        sent[0].warning.action_url,
        format!("https://portal.example/acme/clients/{id}")
    );
    assert!(sent[1].message.text.contains("Expired today"));
}

#[tokio::test]
async fn a_secret_expiring_in_60_days_gets_all_five_on_their_days() {
    let w = world(product_e());
    let notifier = Arc::new(Recorder::default());
    let runner = runner(&w, notifier.clone());
    let start = w.clock_now();
    let id = create(&w, "long", Some("owner"), 60).await;
    let mut days = Vec::new();
    let end = start + Duration::days(62);
    while w.clock_now() < end {
        w.clock.advance(Duration::hours(1));
        let before = notifier.sent().len();
        runner.run_due(w.clock_now()).await.unwrap();
        for _ in before..notifier.sent().len() {
            days.push((w.clock_now() - start).whole_days());
        }
    }
    let stages: Vec<u32> = notifier.sent().iter().map(|s| s.1).collect();
    assert_eq!(stages, vec![30, 30, 14, 14, 7, 7, 1, 1, 0, 0]);
    assert_eq!(days, vec![30, 30, 46, 46, 53, 53, 59, 59, 60, 60]);
    // Owner and creator, each once per stage.
    let recipients: Vec<String> = notifier
        .sent()
        .iter()
        .take(2)
        .map(|s| s.2.clone())
        .collect();
    assert_eq!(recipients, vec!["owner".to_owned(), "creator".to_owned()]);
    assert!(notifier.sent().iter().all(|s| s.0 == id));
    // The admin view shows no warning pending any more.
    let view = w
        .registry
        .get(&admin(), &tenant("acme"), &id)
        .await
        .unwrap();
    assert_eq!(view.secrets[0].next_warning_at, None);
}

#[tokio::test]
async fn the_owner_who_is_also_the_creator_gets_one_message() {
    let w = world(product_e());
    let notifier = Arc::new(Recorder::default());
    let runner = runner(&w, notifier.clone());
    create(&w, "self-owned", Some("creator"), 10).await;
    run_for(&w, &runner, 4, Duration::hours(6)).await;
    assert_eq!(notifier.sent().len(), 1);
}

#[tokio::test]
async fn an_unknown_recipient_is_recorded_undeliverable_and_not_retried() {
    let w = world(product_e());
    let notifier = Arc::new(Recorder::default());
    let runner = runner(&w, notifier.clone());
    let id = create(&w, "ghosted", Some("ghost-1"), 10).await;
    run_for(&w, &runner, 4, Duration::hours(6)).await;
    assert_eq!(notifier.sent(), vec![(id.clone(), 7, "creator".into())]);
    let records = w.store.warnings(&tenant("acme"), &id).await.unwrap();
    let ghost = records
        .iter()
        .find(|r| r.key.recipient == "ghost-1")
        .unwrap();
    assert_eq!(ghost.state, WarningState::Undeliverable);
    assert_eq!(ghost.attempts, 1);
    assert!(ghost.detail.contains("no address"));
    // The next stage is scheduled: the ghost did not block it.
    let view = w
        .registry
        .get(&admin(), &tenant("acme"), &id)
        .await
        .unwrap();
    assert!(view.secrets[0].next_warning_at.is_some());
}

#[tokio::test]
async fn deactivation_stops_and_reactivation_resumes_the_stages_ahead() {
    let w = world(product_e());
    let notifier = Arc::new(Recorder::default());
    let runner = runner(&w, notifier.clone());
    let id = create(&w, "paused", None, 40).await;
    run_for(&w, &runner, 11, Duration::hours(6)).await; // day 10: 30-day sent
    assert_eq!(notifier.sent().len(), 1);
    w.registry
        .update(
            &admin(),
            &tenant("acme"),
            &id,
            ClientUpdate::default().status(ClientStatus::Inactive),
        )
        .await
        .unwrap();
    let view = w
        .registry
        .get(&admin(), &tenant("acme"), &id)
        .await
        .unwrap();
    assert_eq!(view.secrets[0].next_warning_at, None);
    run_for(&w, &runner, 24, Duration::hours(6)).await; // to day 35: 14 and 7 pass
    assert_eq!(notifier.sent().len(), 1);
    w.registry
        .update(
            &admin(),
            &tenant("acme"),
            &id,
            ClientUpdate::default().status(ClientStatus::Active),
        )
        .await
        .unwrap();
    run_for(&w, &runner, 7, Duration::hours(6)).await;
    let stages: Vec<u32> = notifier.sent().iter().map(|s| s.1).collect();
    assert_eq!(stages, vec![30, 1, 0], "14 and 7 fell while inactive");
}

#[tokio::test]
async fn revocation_stops_and_rotation_restarts_the_schedule() {
    let w = world(product_e());
    let notifier = Arc::new(Recorder::default());
    let runner = runner(&w, notifier.clone());
    let revoked = create(&w, "revoked", None, 20).await;
    let rotated = create(&w, "rotated", None, 20).await;
    run_for(&w, &runner, 7, Duration::hours(6)).await; // day 6: both get 14
    assert_eq!(notifier.sent().len(), 2);
    w.registry
        .revoke(&admin(), &tenant("acme"), &revoked)
        .await
        .unwrap();
    w.registry
        .rotate(
            &admin(),
            &tenant("acme"),
            &rotated,
            RotateOptions::default().secret_lifetime(SecretLifetime::After(Duration::days(20))),
        )
        .await
        .unwrap();
    run_for(&w, &runner, 30, Duration::hours(6)).await;
    let after: Vec<(String, u32)> = notifier.sent()[2..]
        .iter()
        .map(|s| (s.0.clone(), s.1))
        .collect();
    // Only the rotated client's new secret: a fresh schedule from 20 days.
    assert_eq!(
        after,
        vec![
            (rotated.clone(), 14),
            (rotated.clone(), 7),
            (rotated.clone(), 1),
            (rotated, 0)
        ]
    );
}

#[tokio::test]
async fn a_late_run_sends_only_the_most_recent_overdue_stage() {
    let w = world(product_e());
    let notifier = Arc::new(Recorder::default());
    let runner = runner(&w, notifier.clone());
    let id = create(&w, "late", None, 35).await;
    // Down from day 0 to day 29: the 30-day (day 5), 14-day (day 21) and
    // 7-day (day 28) warnings are all overdue at once.
    w.clock.advance(Duration::days(29));
    runner.run_due(w.clock_now()).await.unwrap();
    assert_eq!(notifier.sent(), vec![(id.clone(), 7, "creator".into())]);
    run_for(&w, &runner, 8, Duration::hours(6)).await;
    let stages: Vec<u32> = notifier.sent().iter().map(|s| s.1).collect();
    assert_eq!(stages, vec![7, 1, 0]);
}

#[tokio::test]
async fn a_notifier_failure_is_retried_on_a_later_run_with_backoff() {
    let w = world(product_e());
    let notifier = Arc::new(Recorder::failing(1));
    let runner = runner(&w, notifier.clone());
    let id = create(&w, "flaky", None, 10).await;
    w.clock.advance(Duration::days(3) + Duration::minutes(1));
    let first = runner.run_due(w.clock_now()).await.unwrap();
    assert_eq!((first.failed, first.sent), (1, 0));
    // Within the backoff (1 minute): not retried.
    w.clock.advance(Duration::seconds(30));
    let second = runner.run_due(w.clock_now()).await.unwrap();
    assert_eq!((second.busy, second.sent), (1, 0));
    w.clock.advance(Duration::seconds(31));
    let third = runner.run_due(w.clock_now()).await.unwrap();
    assert_eq!(third.sent, 1);
    assert_eq!(notifier.sent(), vec![(id.clone(), 7, "creator".into())]);
    let records = w.store.warnings(&tenant("acme"), &id).await.unwrap();
    assert_eq!(
        (records[0].state, records[0].attempts),
        (WarningState::Sent, 2)
    );
}

/// A notifier that never answers: the runner holding the claim "dies".
#[derive(Debug)]
struct Hangs;

#[async_trait]
impl Notifier for Hangs {
    async fn notify(&self, _: &Notification) -> Result<(), Error> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[tokio::test]
async fn a_claim_of_a_dead_runner_is_taken_over_after_the_lease() {
    let w = world(product_e());
    let id = create(&w, "orphan", None, 10).await;
    w.clock.advance(Duration::days(3) + Duration::minutes(1));
    let dying = WarningRunner::new(
        w.store.clone(),
        w.store.clone(),
        Arc::new(Users),
        Arc::new(Hangs),
        WarningConfig::default(),
    );
    let now = w.clock_now();
    let cut = tokio::time::timeout(std::time::Duration::from_millis(100), dying.run_due(now)).await;
    assert!(cut.is_err(), "the dying runner was cut off mid-send");
    let notifier = Arc::new(Recorder::default());
    let survivor = runner(&w, notifier.clone());
    // Inside the lease: busy.
    w.clock.advance(Duration::minutes(4));
    assert_eq!(survivor.run_due(w.clock_now()).await.unwrap().busy, 1);
    // After it: taken over, sent once.
    w.clock.advance(Duration::minutes(2));
    assert_eq!(survivor.run_due(w.clock_now()).await.unwrap().sent, 1);
    run_for(&w, &survivor, 1, Duration::hours(1)).await;
    assert_eq!(notifier.sent(), vec![(id, 7, "creator".into())]);
}

/// 200 days, 60 clients with mixed lifetimes, rotations, deactivations
/// (some reactivated) and revocations; runs every 6 hours. Each client
/// gets exactly the warnings an independent model of the rules predicts,
/// on the predicted run.
#[tokio::test]
async fn a_200_day_simulation_sends_exactly_the_expected_warnings() {
    let w = world(product_e());
    let notifier = Arc::new(Recorder::default());
    let runner = runner(&w, notifier.clone());
    let step = Duration::hours(6);
    let start = w.clock_now();

    /// The model of one client's current secret.
    struct Model {
        id: String,
        recipients: Vec<String>,
        issued: OffsetDateTime,
        expires: OffsetDateTime,
        active: bool,
        revoked: bool,
        reactivated: Option<OffsetDateTime>,
        sent: Vec<u32>,
    }
    let lifetimes = [3_i64, 9, 15, 29, 31, 45, 60, 90, 120, 180];
    let mut models = Vec::new();
    for i in 0..60_usize {
        let owner = match i % 3 {
            0 => None,
            1 => Some(format!("owner-{i}")),
            _ => Some("creator".to_owned()),
        };
        let days = lifetimes[i % lifetimes.len()];
        let id = create(&w, &format!("sim-{i}"), owner.as_deref(), days).await;
        let mut recipients: Vec<String> = owner.into_iter().collect();
        if !recipients.contains(&"creator".to_owned()) {
            recipients.push("creator".to_owned());
        }
        models.push(Model {
            id,
            recipients,
            issued: start,
            expires: start + Duration::days(days),
            active: true,
            revoked: false,
            reactivated: None,
            sent: Vec::new(),
        });
    }
    // Events: (day, client index, what).
    let mut events: BTreeMap<i64, Vec<(usize, &str)>> = BTreeMap::new();
    for i in 0..60_usize {
        match i % 6 {
            1 => events
                .entry(20 + (i as i64 % 7))
                .or_default()
                .push((i, "rotate")),
            2 => {
                events
                    .entry(10 + (i as i64 % 5))
                    .or_default()
                    .push((i, "deactivate"));
                events
                    .entry(40 + (i as i64 % 9))
                    .or_default()
                    .push((i, "reactivate"));
            }
            3 => events
                .entry(25 + (i as i64 % 11))
                .or_default()
                .push((i, "revoke")),
            4 => events.entry(90).or_default().push((i, "rotate")),
            _ => {}
        }
    }
    let mut expected: HashMap<(String, u32), usize> = HashMap::new();
    let runs = 200 * 4;
    for _ in 0..runs {
        w.clock.advance(step);
        let now = w.clock_now();
        let day = (now - start).whole_days();
        // Events happen at the start of their day, before that day's runs.
        if (now - start) - Duration::days(day) < step {
            for (i, what) in events.remove(&day).unwrap_or_default() {
                let m = &mut models[i];
                if m.revoked {
                    continue;
                }
                let acme = tenant("acme");
                match what {
                    "rotate" if m.active => {
                        w.registry
                            .rotate(&admin(), &acme, &m.id, RotateOptions::default())
                            .await
                            .unwrap();
                        m.issued = now;
                        m.expires = now + Duration::days(180);
                        m.reactivated = None;
                        m.sent.clear();
                    }
                    "deactivate" => {
                        w.registry
                            .update(
                                &admin(),
                                &acme,
                                &m.id,
                                ClientUpdate::default().status(ClientStatus::Inactive),
                            )
                            .await
                            .unwrap();
                        m.active = false;
                    }
                    "reactivate" => {
                        w.registry
                            .update(
                                &admin(),
                                &acme,
                                &m.id,
                                ClientUpdate::default().status(ClientStatus::Active),
                            )
                            .await
                            .unwrap();
                        m.active = true;
                        m.reactivated = Some(now);
                    }
                    "revoke" => {
                        w.registry.revoke(&admin(), &acme, &m.id).await.unwrap();
                        m.revoked = true;
                        m.active = false;
                    }
                    _ => {}
                }
            }
        }
        // The model: a stage is due at this run when it came since the
        // previous run, and it applies (ahead of the secret's issue and of
        // a reactivation) while the client is active.
        let previous = now - step;
        for m in &mut models {
            if !m.active {
                continue;
            }
            for stage in [30_u32, 14, 7, 1, 0] {
                let at = m.expires - Duration::days(i64::from(stage));
                let applies = at > m.issued && m.reactivated.is_none_or(|r| at > r);
                if applies && at > previous && at <= now && !m.sent.contains(&stage) {
                    m.sent.push(stage);
                    for r in &m.recipients {
                        *expected
                            .entry((format!("{}|{r}", m.id), stage))
                            .or_default() += 1;
                    }
                }
            }
        }
        runner.run_due(now).await.unwrap();
    }
    let mut actual: HashMap<(String, u32), usize> = HashMap::new();
    for (id, stage, recipient) in notifier.sent() {
        *actual
            .entry((format!("{id}|{recipient}"), stage))
            .or_default() += 1;
    }
    let mut missing: Vec<_> = expected
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(v))
        .collect();
    missing.sort();
    let mut extra: Vec<_> = actual
        .iter()
        .filter(|(k, v)| expected.get(*k) != Some(v))
        .collect();
    extra.sort();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}"
    );
    // No (secret, stage, recipient) twice.
    let sends = notifier.sent.lock().unwrap();
    let mut unique: Vec<_> = sends
        .iter()
        .map(|n| {
            (
                n.warning.secret_id.clone(),
                n.warning.stage_days,
                n.contact.user_id.clone(),
            )
        })
        .collect();
    let total = unique.len();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), total);
    assert!(
        actual.len() > 150,
        "the simulation sent {} warnings",
        actual.len()
    );
}

#[tokio::test]
async fn a_warning_that_keeps_failing_is_given_up_after_max_attempts() {
    let w = world(product_e());
    let notifier = Arc::new(Recorder::failing(usize::MAX));
    let runner = WarningRunner::new(
        w.store.clone(),
        w.store.clone(),
        Arc::new(Users),
        notifier.clone(),
        WarningConfig::default().with_max_attempts(3),
    );
    let id = create(&w, "refused", None, 10).await;
    w.clock.advance(Duration::days(3) + Duration::minutes(1));
    let mut failed = 0;
    for _ in 0..10 {
        let report = runner.run_due(w.clock_now()).await.unwrap();
        failed += report.failed;
        if report.undeliverable == 1 {
            break;
        }
        w.clock.advance(Duration::hours(1));
    }
    assert_eq!(failed, 2, "two failures, then given up on the third");
    let records = w.store.warnings(&tenant("acme"), &id).await.unwrap();
    assert_eq!(records[0].state, WarningState::Undeliverable);
    assert!(
        records[0].detail.starts_with("gave up after 3 attempts"),
        "{}",
        records[0].detail
    );
    // No longer due: the next stage (1 day) is scheduled.
    let view = w
        .registry
        .get(&admin(), &tenant("acme"), &id)
        .await
        .unwrap();
    let next = view.secrets[0].next_warning_at.unwrap();
    assert_eq!(
        view.secrets[0].expires_at.unwrap() - next,
        Duration::days(1)
    );
}
