//! What the checks share: the check reporter, fixtures, helpers.

use clientcreds_secret::SecretHash;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use time::{Duration, OffsetDateTime};

use crate::{
    ActivityEvent, ActivityKind, ActivityQuery, ActivityRecord, AuditAction, AuditActor,
    AuditEvent, AuditOutcome, AuditQuery, AuditRecord, AuthMethod, AuthSettings, ClaimValue,
    ClientQuery, ClientRecord, ClientStatus, Commit, FederatedCredential, SecretRecord, Store,
    StoreError, TenantId, Write,
};

/// The number of writers [`concurrent_writers`] races.
pub(super) const WRITERS: usize = 16;

/// A limit that reads everything the checks write.
pub(super) const BIG: usize = 10_000;

/// Seconds after the fixtures' epoch at which listings compute status.
pub(super) const NOW_SECS: i64 = 100_000;

/// A named check; its methods panic with the name and what differed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Check(pub(super) &'static str);

/// The error a refused operation must return.
#[derive(Debug, Clone, Copy)]
pub(super) enum Want {
    Conflict,
    NotFound,
    Duplicate,
    InvalidCursor,
    AnyError,
}

impl Want {
    pub(super) fn matches(self, error: &StoreError) -> bool {
        match self {
            Self::Conflict => matches!(error, StoreError::Conflict),
            Self::NotFound => matches!(error, StoreError::NotFound),
            Self::Duplicate => matches!(error, StoreError::Duplicate),
            Self::InvalidCursor => matches!(error, StoreError::InvalidCursor),
            Self::AnyError => true,
        }
    }

    pub(super) fn describe(self) -> &'static str {
        match self {
            Self::Conflict => "StoreError::Conflict",
            Self::NotFound => "StoreError::NotFound",
            Self::Duplicate => "StoreError::Duplicate",
            Self::InvalidCursor => "StoreError::InvalidCursor",
            Self::AnyError => "an error",
        }
    }
}

impl Check {
    #[track_caller]
    pub(super) fn fail(self, what: &str) -> ! {
        panic!("conformance check `{}` failed: {what}", self.0)
    }

    #[track_caller]
    pub(super) fn that(self, what: &str, holds: bool) {
        if !holds {
            self.fail(what);
        }
    }

    #[track_caller]
    pub(super) fn eq<T: PartialEq + Debug>(self, what: &str, actual: T, expected: T) {
        if actual != expected {
            self.fail(&format!(
                "{what}\n  expected: {expected:#?}\n  actual:   {actual:#?}"
            ));
        }
    }

    #[track_caller]
    pub(super) fn ok<T>(self, what: &str, result: Result<T, StoreError>) -> T {
        match result {
            Ok(value) => value,
            Err(error) => self.fail(&format!("{what}: expected success, got {error:?}")),
        }
    }

    #[track_caller]
    pub(super) fn err<T: Debug>(self, what: &str, result: Result<T, StoreError>, want: Want) {
        match result {
            Err(error) if want.matches(&error) => {}
            other => self.fail(&format!(
                "{what}: expected {}, got {other:?}",
                want.describe()
            )),
        }
    }
}

/// Everything a refused commit could have touched.
#[derive(Debug, PartialEq)]
pub(super) struct Snapshot {
    pub(super) clients: Vec<(String, Option<ClientRecord>)>,
    pub(super) audit_a: Vec<AuditRecord>,
    pub(super) audit_b: Vec<AuditRecord>,
}

pub(super) type Task<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Polls every task on the calling task until all are done, in order.
pub(super) async fn join_all<T>(tasks: Vec<Task<'_, T>>) -> Vec<T> {
    let mut slots: Vec<(Option<Task<'_, T>>, Option<T>)> =
        tasks.into_iter().map(|task| (Some(task), None)).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (task, output) in &mut slots {
            if let Some(future) = task {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => {
                        *output = Some(value);
                        *task = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    slots
        .into_iter()
        .map(|(_, output)| output.expect("every task finished"))
        .collect()
}

/// The index of the only `Ok`; every other result must be a `loser` error.
#[track_caller]
pub(super) fn single_winner(
    c: Check,
    what: &str,
    results: &[Result<(), StoreError>],
    loser: impl Fn(&StoreError) -> bool,
) -> usize {
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    if winners.len() != 1 {
        c.fail(&format!(
            "{what}: expected exactly one success, got {}",
            winners.len()
        ));
    }
    for result in results {
        if let Err(error) = result
            && !loser(error)
        {
            c.fail(&format!("{what}: a losing writer got {error:?}"));
        }
    }
    winners[0]
}

/// Commits, then checks the audit trail gained exactly the commit's event.
pub(super) async fn commit_ok(c: Check, store: &dyn Store, commit: Commit, what: &str) {
    let tenant = commit.tenant().clone();
    let event = commit.audit().clone();
    let before = audit_query(c, store, &tenant, None, None, BIG).await;
    c.ok(what, store.commit(commit).await);
    let after = audit_query(c, store, &tenant, None, None, BIG).await;
    let mut expected = audit_events(&before);
    expected.push(event);
    let check = format!("{what}: the tenant's audit trail (the records before it, then its event)");
    c.eq(&check, audit_events(&after), expected);
    c.eq(
        &format!("{what}: the earlier audit records"),
        after[..before.len()].to_vec(),
        before,
    );
    increasing_seq(c, &format!("{what}: the audit trail"), &after);
}

/// Commits, expecting `want`, then checks that nothing changed.
pub(super) async fn commit_refused(
    c: Check,
    store: &dyn Store,
    commit: Commit,
    want: Want,
    what: &str,
) {
    let ids: Vec<String> = commit
        .writes()
        .iter()
        .map(|write| match write {
            Write::Insert(record) | Write::Update { record, .. } => record.client_id.clone(),
            Write::Delete { client_id, .. } => client_id.clone(),
        })
        .collect();
    let before = snapshot(c, store, &ids).await;
    c.err(what, store.commit(commit).await, want);
    let after = snapshot(c, store, &ids).await;
    let check = format!(
        "{what}: the store after the refused commit \
         (it must write nothing, not even its audit record)"
    );
    c.eq(&check, after, before);
}

pub(super) async fn snapshot(c: Check, store: &dyn Store, ids: &[String]) -> Snapshot {
    let mut clients = Vec::new();
    for id in ids {
        clients.push((id.clone(), read_any(c, store, id).await));
    }
    Snapshot {
        clients,
        audit_a: audit_query(c, store, &tenant_a(), None, None, BIG).await,
        audit_b: audit_query(c, store, &tenant_b(), None, None, BIG).await,
    }
}

pub(super) async fn read(
    c: Check,
    store: &dyn Store,
    tenant: &TenantId,
    id: &str,
) -> Option<ClientRecord> {
    c.ok(
        &format!("reading client {id} in tenant {tenant}"),
        store.client(tenant, id).await,
    )
}

pub(super) async fn read_any(c: Check, store: &dyn Store, id: &str) -> Option<ClientRecord> {
    let what = format!("reading client {id} for authentication");
    c.ok(&what, store.client_for_authentication(id).await)
}

pub(super) async fn audit_query(
    c: Check,
    store: &dyn Store,
    tenant: &TenantId,
    client_id: Option<&str>,
    after_seq: Option<u64>,
    limit: usize,
) -> Vec<AuditRecord> {
    let query = AuditQuery {
        tenant: tenant.clone(),
        client_id: client_id.map(str::to_owned),
        after_seq,
        limit,
    };
    c.ok(
        &format!("reading the audit trail ({query:?})"),
        store.audit(&query).await,
    )
}

pub(super) async fn activity_query(
    c: Check,
    store: &dyn Store,
    tenant: &TenantId,
    client_id: Option<&str>,
    after_seq: Option<u64>,
    limit: usize,
) -> Vec<ActivityRecord> {
    let query = ActivityQuery {
        tenant: tenant.clone(),
        client_id: client_id.map(str::to_owned),
        after_seq,
        limit,
    };
    c.ok(
        &format!("reading the activity log ({query:?})"),
        store.activity(&query).await,
    )
}

/// Reads every page of `query`, checking that pages are no larger than the
/// limit, that only the last page is short, and that no client repeats.
pub(super) async fn walk(
    c: Check,
    store: &dyn Store,
    mut query: ClientQuery,
    what: &str,
) -> Vec<ClientRecord> {
    let mut listed: Vec<ClientRecord> = Vec::new();
    let mut seen = HashSet::new();
    loop {
        let page = c.ok(what, store.list(&query).await);
        if page.clients.len() > query.limit {
            c.fail(&format!(
                "{what}: a page of {} clients for limit {}",
                page.clients.len(),
                query.limit
            ));
        }
        for record in &page.clients {
            if !seen.insert(record.client_id.clone()) {
                c.fail(&format!("{what}: client {} listed twice", record.client_id));
            }
        }
        let short = page.clients.len() < query.limit;
        listed.extend(page.clients);
        match page.next {
            None => return listed,
            Some(_) if short => {
                c.fail(&format!(
                    "{what}: a page shorter than the limit has a next cursor"
                ));
            }
            Some(next) => query.after = Some(next),
        }
    }
}

pub(super) async fn all_clients(
    c: Check,
    store: &dyn Store,
    tenant: &TenantId,
) -> Vec<ClientRecord> {
    walk(c, store, query(tenant, 100), "listing every client").await
}

pub(super) fn tenant_a() -> TenantId {
    TenantId::new("conformance-a").unwrap()
}

pub(super) fn tenant_b() -> TenantId {
    TenantId::new("conformance-b").unwrap()
}

/// The fixtures' epoch (2001-01-01T00:00:00Z) plus `secs`.
pub(super) fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(978_307_200 + secs).unwrap()
}

pub(super) fn query(tenant: &TenantId, limit: usize) -> ClientQuery {
    ClientQuery {
        tenant: tenant.clone(),
        now: at(NOW_SECS),
        status: None,
        search: None,
        owner: None,
        limit,
        after: None,
    }
}

pub(super) fn secret(secret_id: &str, created_at: OffsetDateTime) -> SecretRecord {
    SecretRecord {
        secret_id: secret_id.to_owned(),
        hash: SecretHash::from_stored(format!("hmac-sha256$v1$k1$conformance-{secret_id}")),
        display_prefix: "cs_live_ab12".to_owned(),
        label: "created".to_owned(),
        created_at,
        expires_at: None,
        grace_until: None,
        revoked_at: None,
        last_used_at: None,
        warning_due: None,
        public_jwk: None,
    }
}

/// An active client with one active secret and nothing optional set.
pub(super) fn client(
    tenant: &TenantId,
    client_id: &str,
    created_at: OffsetDateTime,
) -> ClientRecord {
    ClientRecord {
        tenant: tenant.clone(),
        client_id: client_id.to_owned(),
        name: format!("Client {client_id}"),
        description: String::new(),
        owner: None,
        created_by: "admin-1".to_owned(),
        scopes: vec!["read".to_owned(), "write".to_owned()],
        audiences: vec!["https://api.example.com".to_owned()],
        extra_claims: BTreeMap::new(),
        token_lifetime_secs: None,
        status: ClientStatus::Active,
        grace_until: None,
        replaced_by: None,
        created_at,
        updated_at: created_at,
        last_used_at: None,
        version: 1,
        auth: Default::default(),
        secrets: vec![secret(&format!("{client_id}-s1"), created_at)],
    }
}

/// A client with every field set, times in whole seconds and UTC.
pub(super) fn full_client(tenant: &TenantId, client_id: &str) -> ClientRecord {
    let mut record = client(tenant, client_id, at(10));
    record.name = "Reporting \u{2014} Zahlungsverkehr \u{652f}\u{6255}".to_owned();
    record.description = "Reads invoices.\nLine two, with \"quotes\" and 'apostrophes'.".to_owned();
    record.owner = Some("alice".to_owned());
    record.created_by = "admin-2".to_owned();
    record.scopes = vec![
        "write".to_owned(),
        "read".to_owned(),
        "admin:all".to_owned(),
    ];
    record.audiences = vec![
        "https://b.example".to_owned(),
        "https://a.example".to_owned(),
    ];
    record.extra_claims = BTreeMap::from([
        (
            "roles".to_owned(),
            ClaimValue::List(vec!["reader".to_owned(), "auditor".to_owned()]),
        ),
        (
            "department".to_owned(),
            ClaimValue::Text("finance".to_owned()),
        ),
        ("internal".to_owned(), ClaimValue::Bool(true)),
        ("tier".to_owned(), ClaimValue::Integer(-3)),
        ("none".to_owned(), ClaimValue::List(Vec::new())),
    ]);
    record.token_lifetime_secs = Some(900);
    record.grace_until = Some(at(NOW_SECS * 3));
    record.replaced_by = Some("cc_read_next".to_owned());
    record.updated_at = at(20);
    record.last_used_at = Some(at(30));
    let mut old = secret(&format!("{client_id}-s1"), at(10));
    old.label = "created".to_owned();
    old.expires_at = Some(at(NOW_SECS * 4));
    old.grace_until = Some(at(NOW_SECS * 2));
    old.last_used_at = Some(at(25));
    let mut revoked = secret(&format!("{client_id}-s2"), at(12));
    revoked.label = "rotation 2".to_owned();
    revoked.display_prefix = "cs_live_cd34".to_owned();
    revoked.revoked_at = Some(at(13));
    let mut current = secret(&format!("{client_id}-s3"), at(14));
    current.label = "rotation 3".to_owned();
    current.display_prefix = "cs_live_ef56".to_owned();
    current.expires_at = Some(at(NOW_SECS * 5));
    current.warning_due = Some(at(NOW_SECS * 4) + Duration::microseconds(1));
    // A public key kept beside the secrets (private_key_jwt), and the
    // client's authentication settings: they round-trip like the rest.
    let mut key = secret("kid-\u{e9}-1", at(15));
    key.hash = SecretHash::from_stored(SecretRecord::KEY_HASH);
    key.public_jwk = Some(
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"kid-\u00e9-1"}"#
            .to_owned(),
    );
    key.expires_at = Some(at(NOW_SECS * 6));
    record.secrets = vec![old, revoked, current, key];
    record.auth = AuthSettings {
        method: AuthMethod::PrivateKeyJwt,
        jwks_uri: Some("https://keys.example/jwks.json".to_owned()),
        federated: vec![FederatedCredential {
            id: "fc-1".to_owned(),
            issuer: "https://kubernetes.default.svc".to_owned(),
            subject: "system:serviceaccount:billing:sync".to_owned(),
            audience: "clientcreds".to_owned(),
            created_at: at(16),
        }],
        dpop_bound_access_tokens: true,
    };
    record
}

pub(super) fn audit_event(
    tenant: &TenantId,
    client_id: &str,
    action: AuditAction,
    detail: &str,
) -> AuditEvent {
    AuditEvent {
        at: at(1),
        actor: AuditActor::TenantAdmin {
            user: "admin-1".to_owned(),
        },
        tenant: tenant.clone(),
        client_id: Some(client_id.to_owned()),
        action,
        outcome: AuditOutcome::Success,
        detail: Some(detail.to_owned()),
    }
}

pub(super) fn activity_event(
    tenant: Option<&TenantId>,
    client_id: &str,
    secs: i64,
    kind: ActivityKind,
) -> ActivityEvent {
    ActivityEvent {
        at: at(secs),
        tenant: tenant.cloned(),
        client_id: client_id.to_owned(),
        kind,
    }
}

pub(super) fn insert(record: &ClientRecord) -> Commit {
    let id = &record.client_id;
    Commit::new(audit_event(
        &record.tenant,
        id,
        AuditAction::Create,
        &format!("create {id}"),
    ))
    .with(Write::Insert(record.clone()))
}

pub(super) fn update(record: &ClientRecord, expected_version: u64) -> Commit {
    let id = &record.client_id;
    let detail = format!("update {id} from version {expected_version}");
    Commit::new(audit_event(
        &record.tenant,
        id,
        AuditAction::Update,
        &detail,
    ))
    .with(Write::Update {
        expected_version,
        record: record.clone(),
    })
}

pub(super) fn delete(tenant: &TenantId, client_id: &str, expected_version: u64) -> Commit {
    let detail = format!("delete {client_id} at version {expected_version}");
    Commit::new(audit_event(tenant, client_id, AuditAction::Delete, &detail)).with(Write::Delete {
        client_id: client_id.to_owned(),
        expected_version,
    })
}

/// `record` as a store returns it at `version`.
pub(super) fn stored(record: &ClientRecord, version: u64) -> ClientRecord {
    ClientRecord {
        version,
        ..record.clone()
    }
}

pub(super) fn stored_all(records: &[ClientRecord]) -> Vec<ClientRecord> {
    records.iter().map(|r| stored(r, 1)).collect()
}

/// `tenant`'s fixtures at version 1, in listing order.
pub(super) fn sorted_for(records: &[ClientRecord], tenant: &TenantId) -> Vec<ClientRecord> {
    let mut mine: Vec<ClientRecord> = records
        .iter()
        .filter(|r| &r.tenant == tenant)
        .map(|r| stored(r, 1))
        .collect();
    mine.sort_by(|x, y| (x.created_at, &x.client_id).cmp(&(y.created_at, &y.client_id)));
    mine
}

pub(super) fn ids(records: &[ClientRecord]) -> Vec<String> {
    records.iter().map(|r| r.client_id.clone()).collect()
}

#[track_caller]
pub(super) fn in_order(c: Check, what: &str, records: &[ClientRecord]) {
    for pair in records.windows(2) {
        let (x, y) = (&pair[0], &pair[1]);
        if (x.created_at, &x.client_id) >= (y.created_at, &y.client_id) {
            c.fail(&format!(
                "{what}: {} is listed before {}",
                x.client_id, y.client_id
            ));
        }
    }
}

pub(super) fn audit_events(records: &[AuditRecord]) -> Vec<AuditEvent> {
    records.iter().map(|r| r.event.clone()).collect()
}

pub(super) fn activity_events(records: &[ActivityRecord]) -> Vec<ActivityEvent> {
    records.iter().map(|r| r.event.clone()).collect()
}

/// Records that carry a sequence number.
pub(super) trait Sequenced {
    fn seq(&self) -> u64;
}

impl Sequenced for AuditRecord {
    fn seq(&self) -> u64 {
        self.seq
    }
}

impl Sequenced for ActivityRecord {
    fn seq(&self) -> u64 {
        self.seq
    }
}

#[track_caller]
pub(super) fn increasing_seq<R: Sequenced>(c: Check, what: &str, records: &[R]) {
    for pair in records.windows(2) {
        if pair[0].seq() >= pair[1].seq() {
            c.fail(&format!(
                "{what}: seq {} comes before seq {}",
                pair[0].seq(),
                pair[1].seq()
            ));
        }
    }
}
